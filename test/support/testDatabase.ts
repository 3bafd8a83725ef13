import { randomUUID } from "node:crypto";
import pg from "pg";

/** A database of its own for one test file, on the server of DATABASE_URL. */
export interface TestDatabase {
  readonly url: string;
  readonly pool: pg.Pool;
  drop(): Promise<void>;
}

/** Set in the unit lane's environment by test/run.ts: no database may be made there. */
export const unitLaneVariable = "UNDERWAY_TEST_UNIT_LANE";

/** Throws in the unit lane: a file that needs a database belongs to another lane. */
export const refuseInUnitLane = (what: string): void => {
  if (process.env[unitLaneVariable] !== undefined)
    throw new Error(
      `${what} in the unit lane, which has no database: list this file as "db" (or "system") in test/lanes.ts`,
    );
};

const serverUrl = (): string => {
  refuseInUnitLane("a test database was asked for");
  const url = process.env["DATABASE_URL"];
  if (url === undefined || url === "")
    throw new Error("DATABASE_URL is not set: run the tests with `npm test`");
  return url;
};

const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
};

/** Creates a fresh database (so no test file depends on another) and a pool on it. */
export const testDatabase = async (label: string): Promise<TestDatabase> => {
  const name = `underway_test_${label.replace(/[^a-z0-9]/gi, "_").toLowerCase()}_${randomUUID().slice(0, 8)}`;
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = withDatabase(serverUrl(), name);
  const pool = new pg.Pool({ connectionString: url, max: 20 });
  pool.on("error", () => undefined);
  return {
    url,
    pool,
    drop: async () => {
      await pool.end();
      const client = new pg.Client({ connectionString: serverUrl() });
      await client.connect();
      // pg's Pool.end() resolves once its clients are removed, not once their
      // connections are closed: a forced drop meanwhile terminates them, and a
      // test's own pool without an 'error' listener then throws an uncaught
      // "terminating connection due to administrator command" (seen once in
      // namedStatements.test.ts). Give closing connections up to 2 s to go.
      for (let waited = 0; waited < 2_000; waited += 50) {
        const { rows } = await client.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where datname = $1",
          [name],
        );
        if ((rows[0]?.n ?? 0) === 0) break;
        await new Promise((done) => setTimeout(done, 50));
      }
      await client.query(`drop database if exists "${name}" with (force)`);
      await client.end();
    },
  };
};
