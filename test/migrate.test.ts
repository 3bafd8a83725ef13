import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, migrate, MigrationError, pendingMigrations, Underway } from "../src/index.ts";
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

  it("pendingMigrations lists what migrate would apply, as SQL, creating nothing; and checks as migrate does", async () => {
    const fresh = await pendingMigrations(db().pool, { schema: "jobs_e" });
    assert.equal(fresh[0]?.name, "0001_init");
    assert.match(fresh[0]?.sql ?? "", /^create schema if not exists "jobs_e";/);
    assert.doesNotMatch(fresh[1]?.sql ?? "", /create schema/, "only the first creates the schema");
    assert.ok(fresh.every((migration) => !migration.sql.includes("{{schema}}")));
    const { rows } = await db().pool.query("select 1 from pg_namespace where nspname = 'jobs_e'");
    assert.equal(rows.length, 0, "nothing created");

    const { applied } = await migrate(db().pool, { schema: "jobs_e" });
    assert.deepEqual(
      applied,
      fresh.map((migration) => migration.name),
    );
    assert.deepEqual(await pendingMigrations(db().pool, { schema: "jobs_e" }), []);
    await db().pool.query("update jobs_e.migration set checksum = 'edited' where version = 2");
    await assert.rejects(pendingMigrations(db().pool, { schema: "jobs_e" }), MigrationError);
  });
});
