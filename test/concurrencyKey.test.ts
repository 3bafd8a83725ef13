import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob } from "../src/index.ts";
import { createRunTable, statesOf, summary } from "./support/faults.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { spawnFixture } from "./support/processes.ts";

const N = t.type({ n: t.number });

// 60 tasks: keys a, b and c run one at a time, key d two at a time.
const perKey = [
  { key: "a", limit: 1, tasks: 12 },
  { key: "b", limit: 1, tasks: 12 },
  { key: "c", limit: 1, tasks: 12 },
  { key: "d", limit: 2, tasks: 24 },
];
const handlerMs = 100;

describe("concurrency keys across processes", () => {
  const { db, connect } = useDatabase("concurrency_key");

  it("never runs more tasks of a key at once than its limit, while other keys keep flowing", async () => {
    const underway = await connect();
    await createRunTable(db().pool);
    const keyOf = (n: number) => perKey[Math.floor(n / 100)] ?? { key: "?", limit: 1 };
    // The producer's definition sets the keys; the worker processes run tasks as stored.
    const job = underway.job(
      defineJob({
        queue: "keyed",
        input: N,
        optionsFor: ({ n }) => ({ concurrencyKey: keyOf(n).key, concurrencyLimit: keyOf(n).limit }),
      }),
    );
    const workers = [1, 2, 3].map(() =>
      spawnFixture("faultWorker", {
        url: db().url,
        queue: "keyed",
        handlerMs,
        concurrency: 4,
        pollIntervalMs: 200,
        stopOnSignals: true,
      }),
    );
    try {
      await Promise.all(workers.map((worker) => worker.waitFor((line) => line["ready"] === true)));
      // Key by key, the worst order: a claim sees a long run of one key first.
      const inputs = perKey.flatMap(({ tasks }, index) =>
        Array.from({ length: tasks }, (_, i) => ({ n: index * 100 + i })),
      );
      await job.enqueueMany(inputs);
      await eventually(
        async () => (await statesOf(db().pool, "keyed"))["succeeded"] === inputs.length,
        30_000,
        "every task succeeded",
      );
      await Promise.all(workers.map((worker) => worker.child.kill("SIGTERM")));
      assert.deepEqual(await Promise.all(workers.map((worker) => worker.exited)), [0, 0, 0]);

      // Each task ran exactly once, to its end.
      const { rows: runs } = await db().pool.query<{ runs: number; ended: number; tasks: number }>(
        "select count(*)::int as runs, count(ended_at)::int as ended, count(distinct task_id)::int as tasks from fault_run",
      );
      assert.deepEqual(runs[0], { runs: inputs.length, ended: inputs.length, tasks: inputs.length });

      // Most runs of one key in progress at the same moment (a run's start inside another's span).
      const { rows: peaks } = await db().pool.query<{ key: string; peak: number; pids: number }>(
        `with run as (
           select r.*, t.concurrency_key as key from fault_run r join underway.task_all t on t.id = r.task_id)
         select a.key, max((select count(*) from run b
                             where b.key = a.key and b.started_at <= a.started_at and b.ended_at > a.started_at))::int
                  as peak,
                count(distinct a.pid)::int as pids
           from run a group by a.key order by a.key`,
      );
      assert.deepEqual(
        peaks.map(({ key, peak }) => ({ key, peak })),
        perKey.map(({ key, limit }) => ({ key, peak: limit })),
        "each key reached its limit and never exceeded it",
      );
      // The keys really were shared between processes, not one process's affair.
      const { rows: pids } = await db().pool.query<{ n: number }>(
        "select count(distinct pid)::int as n from fault_run",
      );
      assert.ok((pids[0]?.n ?? 0) >= 2, "tasks ran in more than one process");

      // Keys flowed side by side: far quicker than one at a time.
      const { rows: span } = await db().pool.query<{ ms: number }>(
        "select extract(epoch from max(ended_at) - min(started_at)) * 1000 as ms from fault_run",
      );
      const spanMs = Math.round(Number(span[0]?.ms));
      const serialMs = inputs.length * handlerMs;
      assert.ok(spanMs < serialMs / 2, `took ${spanMs} ms; one at a time would take ${serialMs} ms`);
      summary("concurrency keys", {
        processes: workers.length,
        tasks: inputs.length,
        "peaks a/b/c/d": peaks.map((row) => row.peak).join("/"),
        "processes per key": peaks.map((row) => row.pids).join("/"),
        "span ms": spanMs,
        "serial ms": serialMs,
      });
    } finally {
      for (const worker of workers) worker.child.kill("SIGKILL");
    }
  });
});
