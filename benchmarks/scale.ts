/**
 * `npm run bench:scale`: the scale-out curve of docs/scaling.md. For each
 * path (straight to PostgreSQL, or through PgBouncer in transaction mode
 * with unnamed statements and a direct LISTEN) and each workload (no-op
 * tasks; tasks over concurrency keys with limit 1), 1, 2 and 4 worker
 * processes (benchmarks/scaleChild.ts) drain the same queue on one
 * database; each figure is the median of `--rounds` drains. Tasks are
 * enqueued while the queue is paused; the clock runs from resumeQueue to
 * the last handler in any process. pg_stat_activity is sampled meanwhile
 * for what busy backends wait on. Table on stdout, progress on stderr.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as t from "io-ts";
import { defineJob, silentLogger, Underway } from "../src/index.ts";
import { devDatabase } from "../test/support/devDatabase.ts";
import { startPgBouncer, type PgBouncer } from "../test/support/pgbouncer.ts";
import { sampleWaits, type WaitShares } from "./waitSampler.ts";
import { vacuumAnalyze, withClient } from "./withClient.ts";

const { values: args } = parseArgs({
  options: {
    tasks: { type: "string", default: "20000" },
    "key-tasks": { type: "string", default: "10000" },
    keys: { type: "string", default: "100" },
    rounds: { type: "string", default: "3" },
    processes: { type: "string", default: "1,2,4" },
    paths: { type: "string", default: "direct,pgbouncer" },
    workloads: { type: "string", default: "noop,keys" },
    concurrency: { type: "string", default: "10" },
    prefetch: { type: "string" },
    out: { type: "string", default: fileURLToPath(new URL("./results/scale.json", import.meta.url)) },
  },
});
const int = (name: string, value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} wants a positive integer, got ${value}`);
  return n;
};
const listOf = (value: string) => value.split(",").filter((part) => part !== "");
const rounds = int("rounds", args.rounds);
const concurrency = int("concurrency", args.concurrency);
const prefetch = args.prefetch === undefined ? undefined : int("prefetch", args.prefetch);
const keys = int("keys", args.keys);
const workloadSizes: Record<string, number> = {
  noop: int("tasks", args.tasks),
  keys: int("key-tasks", args["key-tasks"]),
};
const schema = "bench_scale";
const queue = "scale";
const log = (message: string) => process.stderr.write(`${message}\n`);
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

interface Child {
  readonly process: ChildProcess;
  count: number;
  last: number;
  ready: boolean;
  readonly exited: Promise<void>;
}

const spawnChild = (config: Record<string, unknown>): Child => {
  const proc = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(new URL("./scaleChild.ts", import.meta.url)), JSON.stringify(config)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const child: Child = {
    process: proc,
    count: 0,
    last: 0,
    ready: false,
    exited: new Promise((done) => proc.once("exit", () => done())),
  };
  let buffer = "";
  proc.stdout?.on("data", (chunk: Buffer) => {
    const parts = (buffer + chunk.toString()).split("\n");
    buffer = parts.pop() ?? "";
    for (const part of parts) {
      const line = JSON.parse(part) as { ready?: boolean; count?: number; last?: number };
      if (line.ready === true) child.ready = true;
      if (line.count !== undefined) child.count = line.count;
      if (line.last !== undefined) child.last = line.last;
    }
  });
  return child;
};

const until = async (check: () => boolean, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
};

interface Row {
  readonly path: string;
  readonly workload: string;
  readonly processes: number;
  readonly tasks: number;
  readonly tasksPerSecond: readonly number[];
  readonly median: number;
  readonly commitsPerTask: number;
  readonly meanBusyBackends: number;
  readonly waits: WaitShares;
}

const server = await devDatabase();
// A database of its own, so pg_stat_activity and pg_stat_database count
// this run's backends and commits only.
const databaseName = `underway_bench_scale_${process.pid}`;
await withClient(server.url, (c) => c.query(`create database ${databaseName}`));
const database = { url: Object.assign(new URL(server.url), { pathname: `/${databaseName}` }).toString() };
const bouncer: PgBouncer | undefined = listOf(args.paths).includes("pgbouncer")
  ? await startPgBouncer(database.url)
  : undefined;
const rows: Row[] = [];
try {
  const producer = await Underway.connect({ connectionString: database.url, schema, logger: silentLogger });
  // One input schema for both: a queue binds to one schema per client
  // (compared as objects); the keyed definition differs only in options.
  const Input = t.type({ i: t.number });
  const plain = producer.job(defineJob({ queue, input: Input }));
  const keyed = producer.job(
    defineJob({
      queue,
      input: Input,
      optionsFor: ({ i }) => ({ concurrencyKey: `k${i % keys}`, concurrencyLimit: 1 }),
    }),
  );
  for (const path of listOf(args.paths)) {
    for (const workload of listOf(args.workloads)) {
      const n = workloadSizes[workload];
      if (n === undefined) throw new Error(`unknown workload ${workload} (noop, keys)`);
      for (const processes of listOf(args.processes).map((p) => int("processes", p))) {
        const children = Array.from({ length: processes }, () =>
          spawnChild({
            url: path === "pgbouncer" ? bouncer?.url(database.url) : database.url,
            ...(path === "pgbouncer" ? { listenerUrl: database.url } : {}),
            preparedStatements: path !== "pgbouncer",
            schema,
            queue,
            concurrency,
            prefetch,
          }),
        );
        const figures: number[] = [];
        let commits = 0;
        let busy = 0;
        const waits = new Map<string, number>();
        try {
          await until(() => children.every((child) => child.ready), 180_000, "worker processes to start");
          for (let round = 1; round <= rounds; round += 1) {
            await producer.pauseQueue(queue);
            await withClient(database.url, (c) =>
              c.query(`truncate ${schema}.task, ${schema}.task_finished, ${schema}.task_attempt`),
            );
            const inputs = Array.from({ length: n }, (_, i) => ({ i }));
            await (workload === "keys" ? keyed : plain).enqueueMany(inputs);
            await vacuumAnalyze(database.url, schema);
            await withClient(database.url, (c) => c.query("checkpoint")).catch(() => undefined);
            const before = children.map((child) => child.count);
            const commitsOf = () =>
              withClient(database.url, async (c) => {
                const r = await c.query<{ n: string }>(
                  "select xact_commit::text as n from pg_stat_database where datname = current_database()",
                );
                return Number(r.rows[0]?.n ?? 0);
              });
            const commits0 = await commitsOf();
            const sampler = await sampleWaits(database.url);
            const started = Date.now();
            await producer.resumeQueue(queue);
            const total = () => children.reduce((sum, child, i) => sum + child.count - (before[i] ?? 0), 0);
            await until(() => total() >= n, 15 * 60_000, `${n} tasks to drain`);
            const last = Math.max(...children.map((child) => child.last));
            const sampled = await sampler.stop();
            // Less the sampler's own read-only transactions and the first
            // pg_stat_database read. Approximate: backends report their
            // counts to pg_stat_database up to a second late.
            commits += (await commitsOf()) - commits0 - sampled.samples - 1;
            busy += sampled.meanBusy;
            for (const [wait, share] of Object.entries(sampled.shares))
              waits.set(wait, (waits.get(wait) ?? 0) + share / rounds);
            const perSecond = n / ((last - started) / 1000);
            figures.push(perSecond);
            log(`${path} ${workload} ${processes}p round ${round}: ${Math.round(perSecond)} tasks/s`);
          }
        } finally {
          for (const child of children) child.process.kill("SIGTERM");
          await Promise.all(children.map((child) => child.exited));
        }
        rows.push({
          path,
          workload,
          processes,
          tasks: n,
          tasksPerSecond: figures.map(Math.round),
          median: Math.round(median(figures)),
          commitsPerTask: Math.round((commits / (n * rounds)) * 100) / 100,
          meanBusyBackends: Math.round((busy / rounds) * 10) / 10,
          waits: Object.fromEntries(
            [...waits]
              .sort((a, b) => b[1] - a[1])
              .map(([wait, share]) => [wait, Math.round(share * 1000) / 1000]),
          ),
        });
      }
    }
  }
  await producer.close();
} finally {
  await bouncer?.stop();
  await withClient(server.url, (c) => c.query(`drop database if exists ${databaseName} with (force)`));
  await server.stop();
}

const topWaits = (waits: WaitShares) =>
  Object.entries(waits)
    .slice(0, 3)
    .map(([wait, share]) => `${wait} ${Math.round(share * 100)}%`)
    .join(", ");
const table = [
  `| path | workload | processes | tasks/s (median of ${rounds}) | rounds | commits/task | busy backends | top waits of busy backends |`,
  "|---|---|---:|---:|---|---:|---:|---|",
  ...rows.map(
    (row) =>
      `| ${row.path} | ${row.workload === "keys" ? `${row.tasks} over ${keys} keys, limit 1` : `${row.tasks} no-op`} | ${row.processes} | ${row.median} | ${row.tasksPerSecond.join(", ")} | ${row.commitsPerTask} | ${row.meanBusyBackends} | ${topWaits(row.waits)} |`,
  ),
].join("\n");
process.stdout.write(`${table}\n`);
await mkdir(dirname(args.out), { recursive: true });
await writeFile(
  args.out,
  `${JSON.stringify({ at: new Date().toISOString(), cores: cpus().length, loadAverage: loadavg(), concurrency, prefetch, rows }, null, 2)}\n`,
);
