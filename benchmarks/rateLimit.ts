/**
 * The rate limit's figure of issue 21: four worker processes
 * (test/fixtures/rateWorker.ts) drain 2,000 tasks of one queue whose
 * definition allows 50 starts a second, and the attempts' starts, as the
 * database recorded them (one clock for every process, in microseconds),
 * are checked against the rule: the most starts in any one-second window,
 * and how many windows went over the limit (each window that begins at a
 * start: the densest window of a set of points always begins at one). Then
 * the pace: starts per second once the budget is what holds tasks back (the
 * limit per reuse time, a start to the start `limit` places later), and
 * over the whole run (which also counts how long the workers took to claim
 * the first window's starts).
 *
 *   DATABASE_URL=postgres://… npx tsx benchmarks/rateLimit.ts [--tasks 2000] [--limit 50] [--period-ms 1000]
 *     [--processes 4] [--concurrency 5] [--handler-ms 10]
 *
 * Each run makes a database of its own on DATABASE_URL's server (or on an
 * embedded PostgreSQL when unset) and drops it. Figures on stdout, progress
 * on stderr.
 */
import { parseArgs } from "node:util";
import { loadavg } from "node:os";
import { silentLogger, Underway } from "../src/index.ts";
import { rateJob } from "../test/fixtures/rateDefinitions.ts";
import { devDatabase } from "../test/support/devDatabase.ts";
import { spawnFixture, stopFixtures } from "../test/support/processes.ts";
import { budgetWindows, overallRate, sustainedRate } from "../test/support/rateWindows.ts";
import { testDatabase } from "../test/support/testDatabase.ts";

const { values: args } = parseArgs({
  options: {
    tasks: { type: "string", default: "2000" },
    limit: { type: "string", default: "50" },
    "period-ms": { type: "string", default: "1000" },
    processes: { type: "string", default: "4" },
    concurrency: { type: "string", default: "5" },
    "handler-ms": { type: "string", default: "10" },
  },
});
const int = (name: string, value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} wants a positive integer, got ${value}`);
  return n;
};
const tasks = int("tasks", args.tasks);
const rateLimit = { limit: int("limit", args.limit), periodMs: int("period-ms", args["period-ms"]) };
const processes = int("processes", args.processes);
const log = (message: string) => process.stderr.write(`${message}\n`);
const queue = "bench_rate";

// A database of its own on the server DATABASE_URL names; an embedded one without it.
const server = process.env["DATABASE_URL"] === undefined ? await devDatabase() : undefined;
if (server !== undefined) process.env["DATABASE_URL"] = server.url;
const database = await testDatabase("bench_rate");
const underway = await Underway.connect({ pool: database.pool, logger: silentLogger });
const workers = Array.from({ length: processes }, () =>
  spawnFixture("rateWorker", {
    url: database.url,
    queues: [{ queue, rateLimit }],
    handlerMs: int("handler-ms", args["handler-ms"]),
    concurrency: int("concurrency", args.concurrency),
  }),
);
try {
  await Promise.all(workers.map((worker) => worker.waitFor((line) => line["ready"] === true, 60_000)));
  log(
    `${processes} worker processes ready; enqueueing ${tasks} tasks at ${rateLimit.limit} per ${rateLimit.periodMs} ms`,
  );
  const started = performance.now();
  await underway.job(rateJob(queue, rateLimit)).enqueueMany(Array.from({ length: tasks }, (_, n) => ({ n })));
  for (;;) {
    const { rows } = await database.pool.query<{ n: number }>(
      "select count(*)::int as n from underway.task_finished where queue_name = $1",
      [queue],
    );
    if ((rows[0]?.n ?? 0) >= tasks) break;
    await new Promise((done) => setTimeout(done, 250));
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const [budget] = await budgetWindows(database.pool, "underway", queue, rateLimit.limit, rateLimit.periodMs);
  if (budget === undefined) throw new Error("no start recorded");
  const { rows } = await database.pool.query<{ n: number }>(
    "select count(distinct worker_id)::int as n from underway.task_finished where queue_name = $1",
    [queue],
  );
  const ideal = ((tasks - rateLimit.limit) / rateLimit.limit) * (rateLimit.periodMs / 1000);
  const figures = {
    tasks,
    limit: `${rateLimit.limit} per ${rateLimit.periodMs} ms`,
    processes,
    processesThatStartedTasks: rows[0]?.n ?? 0,
    starts: budget.starts,
    mostStartsInAWindow: budget.most,
    windowsOverTheLimit: budget.over,
    firstToLastStartSeconds: Number(budget.spanSeconds.toFixed(2)),
    idealFirstToLastSeconds: Number(ideal.toFixed(2)),
    reuseMs: Number((budget.reuseMs ?? 0).toFixed(1)),
    sustainedStartsPerPeriod: Number(sustainedRate(budget, rateLimit.limit, rateLimit.periodMs).toFixed(1)),
    overallStartsPerPeriod: Number(overallRate(budget, rateLimit.limit, rateLimit.periodMs).toFixed(1)),
    wallSeconds: Number(wallSeconds.toFixed(1)),
    loadAverage1m: Number((loadavg()[0] ?? 0).toFixed(1)),
  };
  console.log(JSON.stringify(figures, null, 2));
} finally {
  await stopFixtures(workers);
  await underway.close();
  await database.drop();
  await server?.stop();
}
