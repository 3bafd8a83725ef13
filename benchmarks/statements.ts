/**
 * `npx tsx benchmarks/statements.ts`: the cost of `preparedStatements:
 * false` (what PgBouncer in transaction mode needs), measured A/B in one
 * process. Rounds alternate named and unnamed statements (and which goes
 * first), so a load that drifts over the run (a shared machine) weighs on
 * both alike; the report gives each side's median and the median of the
 * per-round ratios. Each side queries through a pool of one connection,
 * so its statements run one after another on one backend, whose CPU time
 * (/proc/<pid>/stat, when the server is on this machine) is read as well:
 * CPU per statement moves far less with the machine's load than wall time.
 * Per round and side: single enqueues from 16 callers for `--window-ms`,
 * then a drain of `--tasks` no-op tasks by one worker (concurrency 10), from
 * start to the last handler.
 */
import { readFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { parseArgs } from "node:util";
import * as t from "io-ts";
import { defineJob, silentLogger, Underway } from "../src/index.ts";
import { devDatabase } from "../test/support/devDatabase.ts";
import { vacuumAnalyze, withClient } from "./withClient.ts";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "7" },
    tasks: { type: "string", default: "2000" },
    "window-ms": { type: "string", default: "2000" },
  },
});
const rounds = Number(args.rounds);
const tasks = Number(args.tasks);
const windowMs = Number(args["window-ms"]);
const schema = "bench_statements";
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
const log = (message: string) => process.stderr.write(`${message}\n`);

const database = await devDatabase();
await withClient(database.url, (c) => c.query(`drop schema if exists ${schema} cascade`));
const sides = await Promise.all(
  [true, false].map(async (preparedStatements) => {
    const pool = new pg.Pool({ connectionString: database.url, max: 1, idleTimeoutMillis: 0 });
    const client = await Underway.connect({
      pool,
      schema,
      logger: silentLogger,
      preparedStatements,
      listener: { connectionString: database.url },
    });
    const job = client.job(
      defineJob({ queue: preparedStatements ? "named" : "unnamed", input: t.type({ i: t.number }) }),
    );
    const { rows } = await pool.query<{ pid: number }>("select pg_backend_pid() as pid");
    return { name: preparedStatements ? "named" : "unnamed", client, pool, job, pid: rows[0]?.pid ?? 0 };
  }),
);
type Side = (typeof sides)[number];

/** CPU seconds the backend used so far (user + system), or NaN when its /proc entry is not readable. */
const backendCpu = async (pid: number): Promise<number> => {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
/** Runs `work` and returns its figure with the backend's CPU µs per unit of work. */
const withCpu = async (side: Side, units: number, work: () => Promise<number>) => {
  const before = await backendCpu(side.pid);
  const figure = await work();
  return { figure, cpuUs: (((await backendCpu(side.pid)) - before) * 1e6) / units };
};

let count = 0;
const singleEnqueue = async (side: Side): Promise<number> => {
  count = 0;
  const until = performance.now() + windowMs;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < until) {
        await side.job.enqueue({ i: count });
        count += 1;
      }
    }),
  );
  return count / (windowMs / 1000);
};

const drain = async (side: Side): Promise<number> => {
  await withClient(database.url, (c) =>
    c.query(`truncate ${schema}.task, ${schema}.task_finished, ${schema}.task_attempt`),
  );
  await side.job.enqueueMany(Array.from({ length: tasks }, (_, i) => ({ i })));
  await vacuumAnalyze(database.url, schema);
  let done = 0;
  let last = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const started = performance.now();
  const worker = side.job.start(
    async () => {
      done += 1;
      last = performance.now();
      if (done === tasks) finish();
      return null;
    },
    { concurrency: 10 },
  );
  await finished;
  await worker.stop();
  return tasks / ((last - started) / 1000);
};

const figures = new Map<string, { named: number[]; unnamed: number[] }>([
  ["single enqueue (enqueues/s)", { named: [], unnamed: [] }],
  [`drain ${tasks} (tasks/s)`, { named: [], unnamed: [] }],
  ["backend CPU per enqueue (µs)", { named: [], unnamed: [] }],
  ["backend CPU per drained task (µs)", { named: [], unnamed: [] }],
]);
for (let round = 0; round < rounds; round += 1) {
  const order = round % 2 === 0 ? sides : [...sides].reverse();
  for (const side of order) {
    let enqueued = 0;
    const enqueues = await withCpu(side, 1, async () => {
      const perSecond = await singleEnqueue(side);
      enqueued = count;
      return perSecond;
    });
    const enqueueCpuUs = enqueues.cpuUs / enqueued;
    const drained = await withCpu(side, tasks, () => drain(side));
    const key = side.name as "named" | "unnamed";
    [enqueues.figure, drained.figure, enqueueCpuUs, drained.cpuUs].forEach((figure, i) =>
      [...figures.values()][i]?.[key].push(figure),
    );
    log(
      `round ${round + 1} ${side.name}: ${Math.round(enqueues.figure)} enqueues/s (${Math.round(enqueueCpuUs)} µs backend CPU each), ` +
        `${Math.round(drained.figure)} tasks/s (${Math.round(drained.cpuUs)} µs each)`,
    );
  }
}
await Promise.all(sides.map((side) => side.client.close()));
await Promise.all(sides.map((side) => side.pool.end()));
await withClient(database.url, (c) => c.query(`drop schema if exists ${schema} cascade`));
await database.stop();

const lines = [
  `| workload | named (median of ${rounds}) | unnamed (median of ${rounds}) | unnamed ÷ named, median of per-round ratios |`,
  "|---|---:|---:|---:|",
  ...[...figures].map(([name, { named, unnamed }]) => {
    const ratios = named.map((n, i) => (unnamed[i] ?? 0) / n);
    return `| ${name} | ${Math.round(median(named))} | ${Math.round(median(unnamed))} | ${median(ratios).toFixed(2)}x |`;
  }),
];
process.stdout.write(`${lines.join("\n")}\n`);
