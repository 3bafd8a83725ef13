import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, migrate, MigrationError, Underway } from "../src/index.ts";
import { useDatabase } from "./support/harness.ts";

describe("migrate", () => {
  const { db } = useDatabase("migrate");

  it("applies once, in its own schema and table, even when many processes start at once", async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, () => migrate(db().pool, { schema: "jobs_a" })),
    );
    const applied = results.flatMap((result) => result.applied);
    assert.deepEqual(applied, results.find((result) => result.applied.length > 0)?.applied);
    assert.ok(applied.includes("0001_init"));
    const again = await migrate(db().pool, { schema: "jobs_a" });
    assert.deepEqual(again.applied, []);
    const { rows } = await db().pool.query(
      "select table_schema, table_name from information_schema.tables where table_name = 'migration'",
    );
    assert.deepEqual(rows, [{ table_schema: "jobs_a", table_name: "migration" }]);
  });

  it("keeps schemas apart", async () => {
    await migrate(db().pool, { schema: "jobs_b" });
    const { rows } = await db().pool.query<{ n: number }>(
      "select count(*)::int as n from information_schema.tables where table_schema = 'jobs_b' and table_name = 'task'",
    );
    assert.equal(rows[0]?.n, 1);
  });

  it("reports an applied migration whose file changed", async () => {
    await migrate(db().pool, { schema: "jobs_c" });
    await db().pool.query("update jobs_c.migration set checksum = 'edited' where version = 1");
    await assert.rejects(migrate(db().pool, { schema: "jobs_c" }), (error: unknown) => {
      assert.ok(error instanceof MigrationError);
      assert.match(error.message, /0001_init was applied to schema jobs_c but its file has changed/);
      return true;
    });
  });

  it("reports migrations it does not know (a newer underway ran here)", async () => {
    await migrate(db().pool, { schema: "jobs_d" });
    await db().pool.query(
      "insert into jobs_d.migration (version, name, checksum) values (9999, '9999_future', 'x')",
    );
    await assert.rejects(migrate(db().pool, { schema: "jobs_d" }), /does not know: 9999_future/);
  });

  it("rejects schema names that are not plain identifiers, before touching the database", async () => {
    for (const schema of ['x"; drop table y; --', "Upper", "1abc", "", "a".repeat(64), "semi;colon"]) {
      await assert.rejects(migrate(db().pool, { schema }), ConfigError, schema);
      await assert.rejects(Underway.connect({ pool: db().pool, schema }), ConfigError, schema);
    }
  });
});
