// Many queues: the Prometheus scrape and the dashboard overview with
// thousands of queues (issue 18, item 15: 10,000 queues took 10.3 s to
// scrape and the overview always answered 503). Builds (or reuses) schema
// `bench_queues` with --queues queues, each holding a few pending, failed
// and succeeded tasks, one in a hundred with 2,000 succeeded (a pair above
// the exact-count bound), VACUUM ANALYZEs it, then times a scrape and the
// overview page through the Fetch handler, median of --runs each.
//
//   npx tsx benchmarks/manyQueues.ts                    # 10,000 queues
//   npx tsx benchmarks/manyQueues.ts --queues 2000 --rebuild
import { parseArgs } from "node:util";
import { dashboard, prometheusMetrics, silentLogger, Underway } from "../src/index.ts";
import { medianMs } from "./medianMs.ts";
import { moveFinished } from "./moveFinished.ts";
import { withClient } from "./withClient.ts";

const { values: args } = parseArgs({
  options: {
    queues: { type: "string", default: "10000" },
    rebuild: { type: "boolean", default: false },
    runs: { type: "string", default: "5" },
  },
});
const url = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
const schema = "bench_queues";
const queues = Number(args.queues);
const runs = Number(args.runs);
const log = (message: string) => process.stderr.write(`${message}\n`);

// Per queue: 3 pending, 1 failed, 20 succeeded; every hundredth queue has
// 2,000 more succeeded.
const fill = `
insert into ${schema}.task (queue_name, state, input, attempt, max_attempts, retry_initial_ms, retry_max_ms,
  retry_coefficient, retry_jitter, timeout_ms, heartbeat_ms, ttl_ms, priority, run_at, created_at,
  started_at, finished_at)
select 'q' || lpad(q::text, 5, '0'), s::${schema}.task_state, '{}'::jsonb,
       case when s = 'pending' then 0 else 1 end, 5, 1000, 60000, 2, 0.5, 900000, 30000, 1209600000, 0,
       now() - interval '1 minute', now() - interval '1 minute',
       case when s <> 'pending' then now() end, case when s <> 'pending' then now() end
  from generate_series(0, $1 - 1) q
 cross join lateral (
   select case when n <= 3 then 'pending' when n = 4 then 'failed' else 'succeeded' end as s
     from generate_series(1, case when q % 100 = 0 then 2024 else 24 end) n
 ) states`;

const build = async (): Promise<void> =>
  withClient(url, async (client) => {
    const { rows } = await client.query<{ n: string }>(`select count(*)::text as n from ${schema}.queue`);
    if (!args.rebuild && Number(rows[0]?.n) === queues) {
      log(`reusing ${schema} (${queues} queues)`);
      return;
    }
    log(`building ${schema} with ${queues} queues…`);
    await client.query(
      `truncate ${schema}.task, ${schema}.task_finished, ${schema}.task_attempt, ${schema}.task_event, ${schema}.queue`,
    );
    await client.query(
      `insert into ${schema}.queue (name) select 'q' || lpad(q::text, 5, '0') from generate_series(0, $1 - 1) q`,
      [queues],
    );
    await client.query(fill, [queues]);
    await moveFinished(client, schema);
    await client.query(`vacuum analyze ${schema}.task`);
    await client.query(`vacuum analyze ${schema}.task_finished`);
    await client.query(`vacuum analyze ${schema}.queue`);
  });

const time = (fn: () => Promise<unknown>): Promise<number> => medianMs(fn, runs);

const underway = await Underway.connect({ connectionString: url, schema, logger: silentLogger });
try {
  await build();
  const metrics = await prometheusMetrics(underway);
  const handler = dashboard(underway, { authorize: () => "admin", queryTimeoutMs: 60_000 });
  const overview = async () => {
    const response = await handler(new Request("http://127.0.0.1/"));
    await response.text();
    if (response.status !== 200) throw new Error(`overview answered ${response.status}`);
  };
  const rows: Array<readonly [string, number]> = [
    ["ops.queues()", await time(() => underway.ops.queues())],
    ["Prometheus scrape (metrics.text())", await time(() => metrics.text())],
    ["dashboard overview (GET /)", await time(overview)],
  ];
  metrics.stop();
  process.stdout.write(`${queues} queues; median of ${runs}\n\n| what | median ms |\n|---|---:|\n`);
  for (const [label, ms] of rows) process.stdout.write(`| ${label} | ${ms.toFixed(0)} |\n`);
} finally {
  await underway.close();
}
