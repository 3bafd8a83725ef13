/**
 * What one claim costs the database, planning apart from execution, for A/B
 * checks of the claim statement between checkouts (docs/design/claim-function.md).
 * A fresh database of `--tasks` tasks, one in `--every` of them in the queue
 * claimed; then `--runs` claims of 10 (each in a transaction rolled back):
 * as a prepared statement under EXPLAIN (ANALYZE, SUMMARY), then as a named
 * statement (round trip), then as an unnamed statement (as with
 * `preparedStatements: false`). Prints medians, the first run's execution
 * (where a function plans its statements) and the plan cache's counts.
 *
 *   npx tsx benchmarks/claimPlanning.ts --package /path/to/checkout --query tasksCompleteAndClaim --every 1
 *
 * Reads the checkout's src/ (its migrations and query files), so either
 * side may be any commit; the database (`--database`, dropped and created
 * again) is the server's of DATABASE_URL.
 */
import { parseArgs } from "node:util";
import pg from "pg";

const { values: args } = parseArgs({
  options: {
    package: { type: "string", default: new URL("..", import.meta.url).pathname },
    database: { type: "string", default: "bench_claim_planning" },
    query: { type: "string", default: "tasksClaim" },
    tasks: { type: "string", default: "300000" },
    every: { type: "string", default: "1000" },
    runs: { type: "string", default: "300" },
  },
});
const server = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
const withDatabase = (name: string): string => {
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.href;
};
const database = args.database;
if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new Error(`--database: not a plain name: ${database}`);

interface Checkout {
  readonly migrate: (pool: pg.Pool) => Promise<unknown>;
  readonly readQueryText: (name: string) => { readonly text: string; readonly params: ReadonlyArray<string> };
}
const checkout = {
  ...((await import(`${args.package}/src/migrate.ts`)) as Pick<Checkout, "migrate">),
  ...((await import(`${args.package}/src/sql.ts`)) as Pick<Checkout, "readQueryText">),
};

const admin = new pg.Client({ connectionString: server });
await admin.connect();
await admin.query(`drop database if exists ${database} with (force)`);
await admin.query(`create database ${database}`);

const pool = new pg.Pool({ connectionString: withDatabase(database) });
const median = (xs: ReadonlyArray<number>): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
try {
  await checkout.migrate(pool);
  const client = await pool.connect();
  try {
    await client.query(
      `insert into underway.task (queue_name, input, max_attempts, retry_initial_ms, retry_max_ms,
                                  retry_coefficient, retry_jitter, timeout_ms, heartbeat_ms, ttl_ms)
       select case when g % $2::integer = 0 then 'bench' else 'other' end, '{}', 3, 1000, 60000, 2, 0, 60000, 30000, 86400000
         from generate_series(1, $1::integer) g`,
      [Number(args.tasks), Number(args.every)],
    );
    await client.query("analyze underway.task");
    const query = checkout.readQueryText(args.query);
    const text = query.text.replaceAll("{{schema}}", "underway");
    // No successes: the claim half alone, for the statements that take them.
    const values: Record<string, unknown> = {
      queue: "bench",
      limit: 10,
      workerId: "w",
      startable: 10,
      ids: [],
      attempts: [],
      outputs: [],
    };
    const params = query.params.map((name) => values[name]);
    const runs = Number(args.runs);
    const timed = async (run: () => Promise<unknown>): Promise<number> => {
      await client.query("begin");
      const start = process.hrtime.bigint();
      await run();
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      await client.query("rollback");
      return ms;
    };
    // EXPLAIN of an EXECUTE reads the prepared statement's plan cache, as a
    // run does (EXPLAIN of the text would plan it afresh every time).
    const literals: Record<string, string> = {
      queue: "'bench'",
      limit: "10",
      workerId: "'w'",
      startable: "10",
      ids: "'{}'::bigint[]",
      attempts: "'{}'::integer[]",
      outputs: "'{}'::jsonb[]",
    };
    await client.query(`prepare claim_probe_sql as ${text}`);
    const execute = `execute claim_probe_sql(${query.params.map((name) => literals[name]).join(", ")})`;
    const planning: number[] = [];
    const execution: number[] = [];
    for (let i = 0; i < runs; i++) {
      await timed(async () => {
        const { rows } = await client.query<{ "QUERY PLAN": Array<Record<string, number>> }>(
          `explain (analyze, summary, format json) ${execute}`,
        );
        planning.push(rows[0]?.["QUERY PLAN"][0]?.["Planning Time"] ?? 0);
        execution.push(rows[0]?.["QUERY PLAN"][0]?.["Execution Time"] ?? 0);
      });
    }
    const named: number[] = [];
    for (let i = 0; i < runs; i++)
      named.push(await timed(() => client.query({ name: "claim_probe", text, values: params })));
    const unnamed: number[] = [];
    for (let i = 0; i < runs; i++) unnamed.push(await timed(() => client.query(text, params)));
    const { rows: cache } = await client.query<{ generic_plans: string; custom_plans: string }>(
      "select generic_plans, custom_plans from pg_prepared_statements where name = 'claim_probe'",
    );
    console.log(
      JSON.stringify({
        package: args.package,
        query: args.query,
        every: Number(args.every),
        planningMs: median(planning.slice(10)),
        executionMs: median(execution.slice(10)),
        firstExecutionMs: execution[0],
        namedRoundTripMs: median(named.slice(10)),
        unnamedRoundTripMs: median(unnamed.slice(10)),
        genericPlans: Number(cache[0]?.generic_plans),
        customPlans: Number(cache[0]?.custom_plans),
        load: (await import("node:os")).loadavg()[0],
      }),
    );
  } finally {
    client.release();
  }
} finally {
  await pool.end();
  await admin.query(`drop database if exists ${database} with (force)`);
  await admin.end();
}
