// Load under faults: several worker processes drain tasks over many
// concurrency keys (limit 1 each) while one process is killed with SIGKILL
// and replaced. Checks: nothing lost, no duplicate run that the kill does not
// explain, no two runs of one key at once. CI runs it small; set
// UNDERWAY_LOAD_TASKS, UNDERWAY_LOAD_KEYS and UNDERWAY_LOAD_WORKERS for the
// full size whose figures docs/reliability.md quotes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob } from "../src/index.ts";
import { createRunTable, statesOf, summary } from "./support/faults.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { spawnFixture, type FixtureProcess } from "./support/processes.ts";

const sizeOf = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
};
const tasks = sizeOf("UNDERWAY_LOAD_TASKS", 3_000);
const keys = sizeOf("UNDERWAY_LOAD_KEYS", 100);
const processes = sizeOf("UNDERWAY_LOAD_WORKERS", 3);

describe("load over many keys, with a kill", () => {
  const { db, connect } = useDatabase("load");

  it(`${tasks} tasks over ${keys} keys in ${processes} worker processes: 0 lost, 0 unexplained duplicates, 0 key overlaps`, async () => {
    const underway = await connect();
    await createRunTable(db().pool);
    await db().pool.query("create index on fault_run (task_id)");
    const job = underway.job(
      defineJob({
        queue: "load",
        input: t.type({ n: t.number }),
        // Short leases so the killed worker's tasks come back quickly.
        optionsFor: ({ n }) => ({ concurrencyKey: `k${n % keys}`, heartbeatMs: 1_000 }),
      }),
    );
    const spawnWorker = (): FixtureProcess =>
      spawnFixture("faultWorker", {
        url: db().url,
        queue: "load",
        handlerMs: 2,
        concurrency: 8,
        pollIntervalMs: 200,
        reapIntervalMs: 250,
        stopOnSignals: true,
      });
    const workers = Array.from({ length: processes }, spawnWorker);
    try {
      await Promise.all(workers.map((worker) => worker.waitFor((line) => line["ready"] === true)));
      const started = Date.now();
      await job.enqueueMany(Array.from({ length: tasks }, (_, n) => ({ n })));

      // Kill one worker once a fifth is done, and start a replacement.
      await eventually(
        async () => ((await statesOf(db().pool, "load"))["succeeded"] ?? 0) >= tasks / 5,
        120_000,
        "a fifth done",
      );
      const victim = workers[0];
      assert.ok(victim !== undefined);
      const killedPid = victim.pid;
      victim.child.kill("SIGKILL");
      await victim.exited;
      workers.push(spawnWorker());

      await eventually(
        async () => (await statesOf(db().pool, "load"))["succeeded"] === tasks,
        600_000,
        "every task succeeded",
      );
      const drainMs = Date.now() - started;
      const live = workers.slice(1);
      for (const worker of live) worker.child.kill("SIGTERM");
      assert.deepEqual(
        await Promise.all(live.map((worker) => worker.exited)),
        live.map(() => 0),
      );

      const states = await statesOf(db().pool, "load");
      assert.deepEqual(states, { succeeded: tasks }, "nothing lost, nothing failed");

      // A task ran more than once only if a run of it was in the killed
      // process (cut off, or finished with its completion not yet committed).
      const { rows: duplicates } = await db().pool.query<{ all: number; unexplained: number }>(
        `with counted as (
           select task_id, count(*) as runs,
                  bool_or(pid = $1) as cut_off
             from fault_run group by task_id)
         select count(*) filter (where runs > 1)::int as all,
                count(*) filter (where runs > 1 and not cut_off)::int as unexplained
           from counted`,
        [killedPid],
      );
      // Two finished runs of one key whose spans intersect: the limit was exceeded.
      const { rows: overlaps } = await db().pool.query<{ n: number }>(
        `with run as (
           select r.id, r.started_at, r.ended_at, t.concurrency_key as key
             from fault_run r join underway.task_all t on t.id = r.task_id
            where r.ended_at is not null)
         select count(*)::int as n
           from run a join run b on a.key = b.key and a.id < b.id
          where a.started_at < b.ended_at and b.started_at < a.ended_at`,
      );
      const { rows: runs } = await db().pool.query<{ n: number; tasks: number }>(
        "select count(*)::int as n, count(distinct task_id)::int as tasks from fault_run",
      );
      assert.equal(runs[0]?.tasks, tasks, "every task ran");
      if (duplicates[0]?.unexplained !== 0) {
        const { rows: detail } = await db().pool.query(
          `select r.task_id::text, r.attempt, r.pid, r.started_at, r.ended_at, t.attempt as task_attempt
             from fault_run r join underway.task_all t on t.id = r.task_id
            where r.task_id in (select task_id from fault_run group by task_id having count(*) > 1)
            order by r.task_id, r.id limit 40`,
        );
        console.log("duplicate runs:", JSON.stringify(detail), "killed pid", killedPid);
      }
      assert.equal(duplicates[0]?.unexplained, 0, "no unexplained duplicate run");
      assert.equal(overlaps[0]?.n, 0, "no two runs of one key at once");
      summary("load", {
        tasks,
        keys,
        processes,
        kills: 1,
        lost: tasks - (runs[0]?.tasks ?? 0),
        "ran twice (cut off by the kill)": duplicates[0]?.all ?? 0,
        "unexplained duplicates": duplicates[0]?.unexplained ?? 0,
        "key overlaps": overlaps[0]?.n ?? 0,
        "drain ms": drainMs,
      });
    } finally {
      for (const worker of workers) worker.child.kill("SIGKILL");
    }
  });
});
