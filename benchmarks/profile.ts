// Where a drain's time goes, on both sides: one system drains a backlog
// while this process samples PostgreSQL's wait events, and the database's
// own counters are read before and after. Node's side is the event loop's
// utilisation here, and a CPU profile when run under `node --cpu-prof`:
//
//   npx tsx benchmarks/profile.ts --system underway --tasks 10000
//   npx tsx benchmarks/profile.ts --system underway --cpu-profile /tmp/drain.cpuprofile
//
// --cpu-profile records the drain alone (not setup or the backlog's insert),
// through the inspector, as `node --cpu-prof` would; open it in Chrome's
// DevTools or summarise it with benchmarks/cpuProfileSummary.ts.
//
// DATABASE_URL selects the database (required). pg_stat_wal is cluster-wide,
// so other databases' writes during the drain count too; xact_commit and the
// wait events are this database's alone.
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { drain } from "./drain.ts";
import { findSystem } from "./registry.ts";
import type { BenchSystem } from "./system.ts";
import { vacuumAnalyze, withClient } from "./withClient.ts";

interface Counters {
  readonly commits: number;
  readonly walRecords: number;
  readonly walBytes: number;
  readonly walWrites: number;
  readonly walSyncs: number;
  readonly tupUpdated: number;
  readonly tupHotUpdated: number;
  readonly tupInserted: number;
  readonly tupDeleted: number;
}

const readCounters = async (client: pg.Client, schema: string): Promise<Counters> => {
  // Table counters reach pg_stat_* when a backend reports; a fresh snapshot
  // is taken per call so two reads in one session differ.
  await client.query("select pg_stat_clear_snapshot()");
  const { rows } = await client.query<Record<string, string>>(
    `select (select xact_commit from pg_stat_database where datname = current_database()) as commits,
            w.wal_records, w.wal_bytes, w.wal_write, w.wal_sync,
            (select coalesce(sum(n_tup_upd), 0) from pg_stat_user_tables where schemaname = $1) as upd,
            (select coalesce(sum(n_tup_hot_upd), 0) from pg_stat_user_tables where schemaname = $1) as hot,
            (select coalesce(sum(n_tup_ins), 0) from pg_stat_user_tables where schemaname = $1) as ins,
            (select coalesce(sum(n_tup_del), 0) from pg_stat_user_tables where schemaname = $1) as del
       from pg_stat_wal w`,
    [schema],
  );
  const r = rows[0] ?? {};
  const n = (key: string): number => Number(r[key] ?? 0);
  return {
    commits: n("commits"),
    walRecords: n("wal_records"),
    walBytes: n("wal_bytes"),
    walWrites: n("wal_write"),
    walSyncs: n("wal_sync"),
    tupUpdated: n("upd"),
    tupHotUpdated: n("hot"),
    tupInserted: n("ins"),
    tupDeleted: n("del"),
  };
};

// What this database's other client backends wait on, sampled every 5 ms by
// a child process (so the sampling's own queries cost this process nothing)
// until its stdin closes; it then prints the counts as JSON.
const samplerCode = `
import pg from "pg";
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
const counts = {};
let samples = 0;
let stopped = false;
process.stdin.on("end", () => { stopped = true; }).resume();
while (!stopped) {
  const { rows } = await client.query(
    "select case when state is null then 'unknown' when state = 'active' " +
    "then coalesce(wait_event_type || ':' || wait_event, 'CPU') else 'idle (' || state || ')' end as what " +
    "from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() " +
    "and backend_type = 'client backend' and application_name <> 'underway-profile-sampler'");
  samples += 1;
  for (const { what } of rows) counts[what] = (counts[what] ?? 0) + 1;
  await new Promise((done) => setTimeout(done, 5));
}
await client.end();
process.stdout.write(JSON.stringify({ samples, counts }));
`;

const sampleWaits = (url: string) => {
  const child = spawn(process.execPath, ["--input-type=module", "-e", samplerCode], {
    env: { ...process.env, DATABASE_URL: url, PGAPPNAME: "underway-profile-sampler" },
    stdio: ["pipe", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<void>((done) => child.on("exit", () => done()));
  return async (): Promise<{ samples: number; counts: Map<string, number> }> => {
    child.stdin.end();
    await exited;
    const parsed = JSON.parse(out) as { samples: number; counts: Record<string, number> };
    return { samples: parsed.samples, counts: new Map(Object.entries(parsed.counts)) };
  };
};

const main = async (): Promise<void> => {
  const { values } = parseArgs({
    options: {
      system: { type: "string", default: "underway" },
      tasks: { type: "string", default: "10000" },
      concurrency: { type: "string", default: "10" },
      prefetch: { type: "string" },
      "cpu-profile": { type: "string" },
    },
  });
  const url = process.env["DATABASE_URL"];
  if (url === undefined) throw new Error("set DATABASE_URL");
  const n = Number(values.tasks);
  const concurrency = Number(values.concurrency);
  const system: BenchSystem =
    values.prefetch === undefined
      ? await findSystem(values.system).create()
      : (await import("./systems/underway.ts")).underway({ prefetch: Number(values.prefetch) });
  await system.setup(url, true);
  await system.reset();
  const payloads = Array.from({ length: n }, (_, i) => ({ i, t: 0 }));
  for (let at = 0; at < n; at += 10_000) await system.bulkInsert(payloads.slice(at, at + 10_000));
  // Backends report table counters when they exit: connect afresh so the
  // backlog's inserts are counted before the drain, and the drain's after.
  await system.teardown();
  await vacuumAnalyze(url, system.schema);
  await system.setup(url, false);
  await withClient(url, (c) => c.query("checkpoint"));

  const stats = new pg.Client({ connectionString: url });
  await stats.connect();
  const before = await readCounters(stats, system.schema);
  const profilePath = values["cpu-profile"];
  const inspector = profilePath === undefined ? undefined : new Session();
  if (inspector !== undefined) {
    inspector.connect();
    await inspector.post("Profiler.enable");
    await inspector.post("Profiler.start");
  }
  const stopSampling = sampleWaits(url);
  const loopBefore = performance.eventLoopUtilization();
  const cpuBefore = process.cpuUsage();
  const result = await drain(system, n, concurrency);
  const cpu = process.cpuUsage(cpuBefore);
  const loop = performance.eventLoopUtilization(loopBefore);
  const waits = await stopSampling();
  if (inspector !== undefined && profilePath !== undefined) {
    const { profile } = await inspector.post("Profiler.stop");
    await writeFile(profilePath, JSON.stringify(profile));
    inspector.disconnect();
  }
  await system.teardown();
  await new Promise((done) => setTimeout(done, 200));
  const after = await readCounters(stats, system.schema);
  await stats.end();

  const per = (key: keyof Counters): string => ((after[key] - before[key]) / n).toFixed(3);
  const out: Record<string, string> = {
    system: system.name + (values.prefetch === undefined ? "" : ` (prefetch ${values.prefetch})`),
    tasks: String(n),
    "tasks/s": result.tasksPerSecond.toFixed(0),
    "node CPU % of wall": ((100 * (cpu.user + cpu.system)) / 1000 / (result.seconds * 1000)).toFixed(0),
    "event loop utilisation %": (100 * loop.utilization).toFixed(0),
    "commits/task (this db)": per("commits"),
    "tasks/commit": (n / (after.commits - before.commits)).toFixed(2),
    "WAL records/task (cluster)": per("walRecords"),
    "WAL bytes/task (cluster)": per("walBytes"),
    "WAL writes/task (cluster)": per("walWrites"),
    "WAL syncs/task (cluster)": per("walSyncs"),
    "tuples updated/task": per("tupUpdated"),
    "HOT updates/task": per("tupHotUpdated"),
    "tuples inserted/task": per("tupInserted"),
    "tuples deleted/task": per("tupDeleted"),
  };
  for (const [key, value] of Object.entries(out)) console.log(`${key.padEnd(28)} ${value}`);
  console.log(`wait events (${waits.samples} samples of this database's client backends, share of samples):`);
  const total = [...waits.counts.values()].reduce((a, b) => a + b, 0);
  for (const [what, count] of [...waits.counts].sort((a, b) => b[1] - a[1]))
    console.log(`  ${what.padEnd(32)} ${((100 * count) / total).toFixed(1)}%`);
};

await main();
