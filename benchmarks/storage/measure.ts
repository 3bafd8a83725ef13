// Measures what a claim and a completion write under each storage design of
// docs/design/storage-v2.md: WAL bytes, records and full-page images, buffers
// dirtied and written, and tuples inserted, updated (HOT or not) and deleted,
// per task, from EXPLAIN (ANALYZE, BUFFERS, WAL) of each statement; then a
// timed claim-500 / complete-500 loop. WAL and tuple figures come from this
// backend alone, so they do not depend on the machine's load; times do.
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/storage_bench \
//     npx tsx benchmarks/storage/measure.ts [--tasks 10000] [--batch 500] \
//     [--finished 0,1000000] [--designs current,a,b,b2,c] [--rounds 5] [--pad 0] [--unnamed]
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import pg from "pg";
import { migrate } from "../../src/migrate.ts";

const { values: args } = parseArgs({
  options: {
    tasks: { type: "string", default: "10000" },
    batch: { type: "string", default: "500" },
    finished: { type: "string", default: "0,1000000" },
    designs: { type: "string", default: "current,a,b,b2,c" },
    rounds: { type: "string", default: "5" },
    // Extra bytes of text in each input, to see how the row's width weighs.
    pad: { type: "string", default: "0" },
    // Unnamed statements, planned afresh on every execution, as a client
    // with `preparedStatements: false` (behind PgBouncer) sends them.
    unnamed: { type: "boolean", default: false },
  },
});
const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/storage_bench";
const tasks = Number(args.tasks);
const batch = Number(args.batch);
const rounds = Number(args.rounds);
const here = new URL(".", import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, here), "utf8");

/** The named sections (`-- name: x`) of a prototype file. */
type Section = "setup" | "enqueue" | "claim" | "heartbeat" | "complete" | "fill";

/** The named sections (`-- name: x`) of a prototype file; a missing one is an empty string. */
const sections = (text: string): Record<Section, string> => {
  const found = new Map(
    text
      .split(/^-- name: /m)
      .slice(1)
      .map((part) => {
        const newline = part.indexOf("\n");
        return [part.slice(0, newline).trim(), part.slice(newline + 1).trim()] as const;
      }),
  );
  const get = (name: Section): string => found.get(name) ?? "";
  return {
    setup: get("setup"),
    enqueue: get("enqueue"),
    claim: get("claim"),
    heartbeat: get("heartbeat"),
    complete: get("complete"),
    fill: get("fill"),
  };
};

interface Design {
  readonly name: string;
  readonly schema: string;
  readonly setup: (client: pg.Client, pool: pg.Pool) => Promise<void>;
  readonly sql: Record<Exclude<Section, "setup">, string>;
}

const bind = (text: string, schema: string): string => text.replaceAll("{{schema}}", schema);

const same = (text: string): string => text;

/** A prototype without its lease index (design B2 from B's file). */
const withoutLeaseIndex = (text: string): string => {
  const without = text.replace(/^create index task_lease_idx .*\n/m, "");
  if (without === text) throw new Error("no task_lease_idx to leave out");
  return without;
};

const catalogue: Partial<Record<string, Design>> = {
  current: {
    name: "current (one wide task row)",
    schema: "sb_current",
    setup: async (_client, pool) => {
      await migrate(pool, { schema: "sb_current" });
    },
    sql: {
      enqueue: bind(read("../../db/queries/tasksEnqueueUniform.sql"), "sb_current"),
      claim: bind(read("../../db/queries/tasksClaim.sql"), "sb_current"),
      heartbeat: bind(read("../../db/queries/tasksHeartbeat.sql"), "sb_current"),
      complete: bind(read("../../db/queries/tasksComplete.sql"), "sb_current"),
      fill: bind(sections(read("current.sql")).fill, "sb_current"),
    },
  },
  ...Object.fromEntries(
    (
      [
        ["a", "A: narrow hot row + immutable input", "a-split.sql", same],
        ["b", "B: live table + finished partitions", "b-live-finished.sql", same],
        // B2 is B less one index: the reaper finds running tasks through
        // task_queue_state_idx instead, so a renewal can be a HOT update.
        ["b2", "B2: B without task_lease_idx", "b-live-finished.sql", withoutLeaseIndex],
        ["c", "C: A + B", "c-split-live-finished.sql", same],
      ] as const
    ).map(([key, name, file, derive]) => {
      const schema = `sb_${key}`;
      const parts = sections(derive(read(file)));
      const design: Design = {
        name,
        schema,
        setup: async (client) => {
          await client.query(`create schema ${schema}`);
          await client.query(bind(parts.setup, schema));
        },
        sql: {
          enqueue: bind(parts.enqueue, schema),
          claim: bind(parts.claim, schema),
          heartbeat: bind(parts.heartbeat, schema),
          complete: bind(parts.complete, schema),
          fill: bind(parts.fill, schema),
        },
      };
      return [key, design];
    }),
  ),
};

/** The element at `index`; a missing one is a bug of this script. */
const at = <T>(xs: ReadonlyArray<T>, index = 0): T => {
  const x = xs[index];
  if (x === undefined) throw new Error(`no element ${index}`);
  return x;
};

const designOf = (key: string): Design => {
  const design = catalogue[key];
  if (!design) throw new Error(`unknown design ${key}; known: ${Object.keys(catalogue).join(", ")}`);
  return design;
};

const padding = "x".repeat(Number(args.pad));
const input = (i: number): string =>
  JSON.stringify({
    userId: i,
    email: `user${i}@example.com`,
    template: "welcome",
    locale: "en-GB",
    ...(padding ? { padding } : {}),
  });
// tasksEnqueueUniform's parameters after the inputs: max attempts, retry
// policy, timeout, heartbeat, ttl (14 days), priority, no key, limit 1, no
// unique key, no delay, no trace context.
const enqueueParams = (queue: string, inputs: string[]): unknown[] => [
  queue,
  inputs,
  5,
  1000,
  60000,
  2,
  0.5,
  900000,
  30000,
  1209600000,
  0,
  null,
  1,
  null,
  0,
  null,
];

interface Cost {
  statements: number;
  ms: number;
  walBytes: number;
  walRecords: number;
  walFpi: number;
  dirtied: number;
  written: number;
  hit: number;
  read: number;
}
const zero = (): Cost => ({
  statements: 0,
  ms: 0,
  walBytes: 0,
  walRecords: 0,
  walFpi: 0,
  dirtied: 0,
  written: 0,
  hit: 0,
  read: 0,
});

const explained = async (client: pg.Client, sql: string, params: unknown[], cost: Cost): Promise<void> => {
  const result = await client.query<{ "QUERY PLAN": [Record<string, unknown>] }>(
    `explain (analyze, buffers, wal, format json) ${sql}`,
    params,
  );
  const top = at(at(result.rows)["QUERY PLAN"]);
  const plan = top.Plan as Record<string, number>;
  cost.statements += 1;
  cost.ms += top["Execution Time"] as number;
  cost.walBytes += plan["WAL Bytes"] ?? 0;
  cost.walRecords += plan["WAL Records"] ?? 0;
  cost.walFpi += plan["WAL FPI"] ?? 0;
  cost.dirtied += plan["Shared Dirtied Blocks"] ?? 0;
  cost.written += plan["Shared Written Blocks"] ?? 0;
  cost.hit += plan["Shared Hit Blocks"] ?? 0;
  cost.read += plan["Shared Read Blocks"] ?? 0;
};

interface Tuples {
  ins: number;
  upd: number;
  hot: number;
  del: number;
}
const tuples = async (client: pg.Client, schema: string): Promise<Tuples> => {
  // This backend's counts reach the shared statistics when it next goes
  // idle after asking for a flush.
  await client.query("select pg_stat_force_next_flush()");
  await client.query("select 1");
  await new Promise((resolve) => setTimeout(resolve, 200));
  const { rows } = await client.query<Tuples>(
    `select coalesce(sum(n_tup_ins), 0)::float8 as ins, coalesce(sum(n_tup_upd), 0)::float8 as upd,
            coalesce(sum(n_tup_hot_upd), 0)::float8 as hot, coalesce(sum(n_tup_del), 0)::float8 as del
       from pg_stat_user_tables where schemaname = $1`,
    [schema],
  );
  await client.query("select pg_stat_clear_snapshot()");
  return at(rows);
};

const vacuumAnalyze = async (client: pg.Client, schema: string): Promise<void> => {
  const { rows } = await client.query<{ name: string }>(
    `select format('%I.%I', schemaname, relname) as name from pg_stat_user_tables where schemaname = $1`,
    [schema],
  );
  for (const { name } of rows) await client.query(`vacuum analyze ${name}`);
};

const enqueueAll = async (client: pg.Client, design: Design, cost?: Cost): Promise<void> => {
  for (let start = 0; start < tasks; start += 1000) {
    const inputs = Array.from({ length: Math.min(1000, tasks - start) }, (_, i) => input(start + i));
    const params = enqueueParams("bench", inputs);
    if (cost) await explained(client, design.sql.enqueue, params, cost);
    else await client.query(design.sql.enqueue, params);
  }
};

const claimedBy = async (client: pg.Client, design: Design, worker: string) =>
  (
    await client.query<{ id: string; attempt: number }>(
      `select id::text, attempt from ${design.schema}.task where state = 'in_progress' and worker_id = $1`,
      [worker],
    )
  ).rows;

const median = (xs: number[]): number =>
  at(
    [...xs].sort((a, b) => a - b),
    Math.floor(xs.length / 2),
  );

const steps = ["enqueue", "claim", "heartbeat", "complete"] as const;
type Step = (typeof steps)[number];

interface Row {
  design: string;
  finished: number;
  cost: Record<Step, Cost>;
  tuples: Record<Step, Tuples>;
  hotTableMb: number;
  drainTasksPerSecond: number[];
  backendCpuUsPerTask: number[];
  load: number[];
}

const minus = (after: Tuples, before: Tuples): Tuples => ({
  ins: after.ins - before.ins,
  upd: after.upd - before.upd,
  hot: after.hot - before.hot,
  del: after.del - before.del,
});

const measureDesign = async (key: string, finished: number): Promise<Row> => {
  const design = designOf(key);
  const client = new pg.Client({ connectionString: url });
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${design.schema} cascade`);
    await design.setup(client, pool);
    await client.query(
      `insert into ${design.schema}.queue (name) values ('bench'), ('old') on conflict do nothing`,
    );
    if (finished > 0) await client.query(design.sql.fill, [finished]);
    await vacuumAnalyze(client, design.schema);
    // After a checkpoint the first change of each page writes a full-page
    // image: the FPI counts compare how many pages each design touches.
    await client.query("checkpoint");

    const cost = { enqueue: zero(), claim: zero(), heartbeat: zero(), complete: zero() };
    const snapshots: Tuples[] = [await tuples(client, design.schema)];
    await enqueueAll(client, design, cost.enqueue);
    snapshots.push(await tuples(client, design.schema));
    await vacuumAnalyze(client, design.schema);
    await client.query("checkpoint");
    // Step by step over the whole set (claim every batch, renew every
    // lease once, complete every batch), so each step's tuple counts stand
    // apart. Batches of `batch`, as a worker sends them.
    const claimed: { id: string; attempt: number }[][] = [];
    for (let round = 0; ; round++) {
      const worker = `w-${round}`;
      await explained(client, design.sql.claim, ["bench", batch, worker, batch], cost.claim);
      const rows = await claimedBy(client, design, worker);
      if (rows.length === 0) break;
      claimed.push(rows);
    }
    snapshots.push(await tuples(client, design.schema));
    for (const rows of claimed) {
      await explained(
        client,
        design.sql.heartbeat,
        [rows.map((r) => r.id), rows.map((r) => r.attempt)],
        cost.heartbeat,
      );
    }
    snapshots.push(await tuples(client, design.schema));
    for (const rows of claimed) {
      await explained(
        client,
        design.sql.complete,
        [rows.map((r) => r.id), rows.map((r) => r.attempt), rows.map(() => '{"ok":true}')],
        cost.complete,
      );
    }
    snapshots.push(await tuples(client, design.schema));
    const size = await client.query<{ mb: number }>(
      `select (pg_total_relation_size('${design.schema}.task') / 1048576.0)::float8 as mb`,
    );
    const delta = (i: number): Tuples => minus(at(snapshots, i + 1), at(snapshots, i));
    return {
      design: design.name,
      finished,
      cost,
      tuples: { enqueue: delta(0), claim: delta(1), heartbeat: delta(2), complete: delta(3) },
      hotTableMb: at(size.rows).mb,
      drainTasksPerSecond: [],
      backendCpuUsPerTask: [],
      load: [],
    };
  } finally {
    await client.end();
    await pool.end();
  }
};

/** CPU time (user + system) a local backend has used so far, in ms, from /proc (10 ms ticks). */
const backendCpuMs = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) * 10;
};

/** One timed drain of `tasks` tasks: claim `batch`, complete them, until none is left. */
const timedDrain = async (key: string): Promise<{ rate: number; cpuUsPerTask: number }> => {
  const design = designOf(key);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await enqueueAll(client, design);
    await vacuumAnalyze(client, design.schema);
    const pid = at((await client.query<{ pid: number }>("select pg_backend_pid() as pid")).rows).pid;
    const cpuBefore = backendCpuMs(pid);
    const started = performance.now();
    let done = 0;
    for (;;) {
      const claimed = await client.query<{ id: string; attempt: number }>({
        ...(args.unnamed ? {} : { name: "claim" }),
        text: design.sql.claim,
        values: ["bench", batch, "w-drain", batch],
      });
      if (claimed.rows.length === 0) break;
      const completed = await client.query({
        ...(args.unnamed ? {} : { name: "complete" }),
        text: design.sql.complete,
        values: [
          claimed.rows.map((r) => r.id),
          claimed.rows.map((r) => r.attempt),
          claimed.rows.map(() => '{"ok":true}'),
        ],
      });
      done += completed.rowCount ?? 0;
    }
    const seconds = (performance.now() - started) / 1000;
    return { rate: done / seconds, cpuUsPerTask: ((backendCpuMs(pid) - cpuBefore) * 1000) / done };
  } finally {
    await client.end();
  }
};

const per = (x: number): string => (x / tasks).toFixed(x / tasks < 10 ? 2 : 0);

const results: Row[] = [];
const keys = args.designs.split(",");
for (const finished of args.finished.split(",").map(Number)) {
  const level: Row[] = [];
  for (const key of keys) {
    level.push(await measureDesign(key, finished));
    console.error(`measured ${key} at ${finished} finished rows`);
  }
  // Timed rounds interleaved across the designs, so that a change in the
  // machine's load falls on all of them alike.
  for (let round = 0; round < rounds; round++) {
    for (const [i, key] of keys.entries()) {
      const row = at(level, i);
      row.load.push(at(loadavg()));
      const drained = await timedDrain(key);
      row.drainTasksPerSecond.push(drained.rate);
      row.backendCpuUsPerTask.push(drained.cpuUsPerTask);
    }
    console.error(`timed round ${round + 1} at ${finished} finished rows`);
  }
  results.push(...level);
}

console.log(
  "| design | finished rows | step | WAL bytes/task | WAL records/task | FPI/task | dirtied/task | hit/task | upd/task | HOT upd/task | ins/task | del/task | exec ms (EXPLAIN, all tasks) |",
);
console.log("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of results) {
  for (const step of steps) {
    const c = r.cost[step];
    const t = r.tuples[step];
    console.log(
      `| ${r.design} | ${r.finished.toLocaleString("en")} | ${step} | ${per(c.walBytes)} | ${per(c.walRecords)} | ${per(c.walFpi)} | ${per(c.dirtied)} | ${per(c.hit)} | ${per(t.upd)} | ${per(t.hot)} | ${per(t.ins)} | ${per(t.del)} | ${c.ms.toFixed(0)} |`,
    );
  }
}
console.log("");
console.log(
  "| design | finished rows | task table + indexes after drain (MB) | drain tasks/s (rounds) | median | backend CPU µs/task (rounds) | median | load avg (1 min) |",
);
console.log("| --- | ---: | ---: | --- | ---: | --- | ---: | --- |");
for (const r of results) {
  const list = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(", ");
  console.log(
    `| ${r.design} | ${r.finished.toLocaleString("en")} | ${r.hotTableMb.toFixed(1)} | ${list(r.drainTasksPerSecond)} | ${median(r.drainTasksPerSecond).toFixed(0)} | ${list(r.backendCpuUsPerTask)} | ${median(r.backendCpuUsPerTask).toFixed(0)} | ${r.load.map((x) => x.toFixed(1)).join(", ")} |`,
  );
}
console.log("");
console.log(JSON.stringify(results));
