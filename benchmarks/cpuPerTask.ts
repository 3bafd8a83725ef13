/**
 * CPU per task of a no-op drain, for A/B checks of the default path (no
 * flow control configured) between two builds of underway on a shared,
 * noisy machine: wall-clock throughput moves with other work on the
 * machine, CPU time per task far less. Per round: `--tasks` tasks enqueued
 * in bulk into a fresh schema, then drained by one worker (defaults,
 * concurrency 10); reported are tasks a second (wall), this process's CPU
 * per task (user + system, µs) and the CPU of the database's backends
 * serving it (from /proc/<pid>/stat: the server must run on this machine).
 *
 *   npm run build   # in each checkout compared
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/a npx tsx benchmarks/cpuPerTask.ts --package /path/to/checkout-a
 *
 * Run the two sides alternately, each on a database of its own (their
 * migrations may differ), several rounds each, and compare medians.
 */
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import * as t from "io-ts";
import pg from "pg";
import type { UnderwayApi } from "./builtUnderway.ts";

const { values: args } = parseArgs({
  options: {
    package: { type: "string", default: new URL("..", import.meta.url).pathname },
    tasks: { type: "string", default: "20000" },
    rounds: { type: "string", default: "1" },
  },
});
const url = process.env["DATABASE_URL"];
if (url === undefined) throw new Error("set DATABASE_URL (a database this run may create a schema in)");
const tasks = Number(args.tasks);
const schema = "bench_cpu";
const ticksPerSecond = 100; // USER_HZ on Linux

const api = (await import(pathToFileURL(`${args.package}/dist/src/index.js`).href)) as UnderwayApi;

/** CPU seconds (user + system) of one process, or 0 once it is gone. */
const cpuOf = async (pid: number): Promise<number> => {
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return 0;
  }
};

const monitor = new pg.Client({ connectionString: url });
await monitor.connect();
/** The backends of this database but the monitor's own, with their CPU seconds. */
const backends = async (): Promise<Map<number, number>> => {
  const { rows } = await monitor.query<{ pid: number }>(
    "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()",
  );
  return new Map(await Promise.all(rows.map(async ({ pid }) => [pid, await cpuOf(pid)] as const)));
};

for (let round = 1; round <= Number(args.rounds); round++) {
  await monitor.query(`drop schema if exists ${schema} cascade`);
  const underway = await api.Underway.connect({ connectionString: url, schema, logger: api.silentLogger });
  const job = underway.job(api.defineJob({ queue: "cpu", input: t.type({ i: t.number }) }));
  for (let from = 0; from < tasks; from += 5_000)
    await job.enqueueMany(Array.from({ length: Math.min(5_000, tasks - from) }, (_, i) => ({ i: from + i })));
  await monitor.query(`vacuum analyze ${schema}.task`);
  let done = 0;
  let finish = (): void => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const before = await backends();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const worker = job.start(
    async () => {
      done += 1;
      if (done === tasks) finish();
      return null;
    },
    { concurrency: 10 },
  );
  await finished;
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const after = await backends();
  await worker.stop();
  await underway.close();
  let dbSeconds = 0;
  for (const [pid, seconds] of after) dbSeconds += seconds - (before.get(pid) ?? 0);
  const perTask = (s: number) => ((s * 1e6) / tasks).toFixed(1);
  const load = (await readFile("/proc/loadavg", "utf8")).split(" ")[0];
  console.log(
    JSON.stringify({
      package: args.package,
      round,
      tasksPerSecond: Math.round(tasks / seconds),
      nodeMicrosPerTask: Number(perTask((cpu.user + cpu.system) / 1e6)),
      dbMicrosPerTask: Number(perTask(dbSeconds)),
      load: Number(load),
    }),
  );
}
await monitor.query(`drop schema if exists ${schema} cascade`);
await monitor.end();
