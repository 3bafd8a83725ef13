// The ops API against several worker processes: the worker registry (one
// row per process, dead ones age out, a closed one leaves) and pause/resume
// through ops.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob } from "../src/index.ts";
import { createRunTable, statesOf } from "./support/faults.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { spawnFixture } from "./support/processes.ts";

const N = t.type({ n: t.number });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("ops across worker processes", () => {
  const { db, connect } = useDatabase("ops_processes");

  it("registers each process once with its queues and concurrency; closed ones leave, dead ones age out", async () => {
    const underway = await connect();
    await createRunTable(db().pool);
    const spawn = (queue: string, concurrency: number) =>
      spawnFixture("faultWorker", { url: db().url, queue, handlerMs: 10, concurrency, stopOnSignals: true });
    const workers = [spawn("registry_a", 3), spawn("registry_b", 5)];
    try {
      await Promise.all(workers.map((worker) => worker.waitFor((line) => line["ready"] === true)));
      await eventually(
        async () => (await underway.ops.workers()).length === 2,
        5_000,
        "two registered processes",
      );
      const listed = await underway.ops.workers();
      const byPid = new Map(listed.map((info) => [info.pid, info]));
      const [a, b] = workers;
      assert.ok(a !== undefined && b !== undefined);
      assert.deepEqual(byPid.get(a.pid)?.queues, [{ queue: "registry_a", concurrency: 3 }]);
      assert.deepEqual(byPid.get(b.pid)?.queues, [{ queue: "registry_b", concurrency: 5 }]);
      for (const info of listed) {
        assert.ok(info.heartbeatAgeSeconds >= 0 && info.heartbeatAgeSeconds < 15);
        assert.ok(info.startedAt instanceof Date && info.heartbeatAt instanceof Date);
        assert.match(info.id, new RegExp(`:${info.pid}:`));
      }

      // A graceful stop deletes the process's row.
      a.child.kill("SIGTERM");
      await a.exited;
      assert.deepEqual(
        (await underway.ops.workers()).map((info) => info.pid),
        [b.pid],
      );

      // A process killed outright leaves its row, which ages out: past a
      // few heartbeats it is not listed, and a live client prunes it.
      b.child.kill("SIGKILL");
      await b.exited;
      assert.equal((await underway.ops.workers()).length, 1, "still within its heartbeats");
      await db().pool.query(
        "update underway.worker_process set heartbeat_at = now() - interval '31 seconds'",
      );
      assert.deepEqual(await underway.ops.workers(), []);
      const job = underway.job(defineJob({ queue: "registry_local", input: N }));
      const local = job.start(async () => ({}), { concurrency: 2 });
      try {
        await eventually(async () => (await underway.ops.workers()).length === 1, 5_000, "the local worker");
        const { rows } = await db().pool.query<{ n: number }>(
          "select count(*)::int as n from underway.worker_process",
        );
        assert.equal(rows[0]?.n, 1, "the dead row was pruned");
        assert.equal((await underway.ops.workers())[0]?.pid, process.pid);
      } finally {
        await local.stop();
      }
      await eventually(
        async () => (await underway.ops.workers()).length === 0,
        5_000,
        "the local worker gone",
      );
    } finally {
      for (const worker of workers) worker.child.kill("SIGKILL");
    }
  });

  it("pauses and resumes a queue for every process through ops", async () => {
    const underway = await connect();
    await createRunTable(db().pool);
    const job = underway.job(defineJob({ queue: "ops_paused", input: N }));
    const spawn = () =>
      spawnFixture("faultWorker", {
        url: db().url,
        queue: "ops_paused",
        handlerMs: 10,
        pollIntervalMs: 10_000,
      });
    const workers = [spawn(), spawn()];
    try {
      await Promise.all(workers.map((worker) => worker.waitFor((line) => line["ready"] === true)));
      await underway.ops.pause("ops_paused");
      const paused = (await underway.ops.queues()).find((queue) => queue.queue === "ops_paused");
      assert.ok(paused?.pausedAt instanceof Date);
      await job.enqueueMany(Array.from({ length: 6 }, (_, n) => ({ n })));
      await sleep(1_000);
      assert.deepEqual(await statesOf(db().pool, "ops_paused"), { pending: 6 });
      const stats = (await underway.ops.queues()).find((queue) => queue.queue === "ops_paused");
      assert.deepEqual(stats?.counts.pending, { count: 6, approximate: false });
      assert.ok(stats?.oldestPendingAgeSeconds !== null && (stats?.oldestPendingAgeSeconds ?? 0) >= 0.5);
      await underway.ops.resume("ops_paused");
      await eventually(
        async () => (await statesOf(db().pool, "ops_paused"))["succeeded"] === 6,
        5_000,
        "every task after the resume",
      );
      const { rows } = await db().pool.query<{ n: number }>(
        "select count(distinct pid)::int as n from fault_run",
      );
      assert.ok((rows[0]?.n ?? 0) >= 1);
    } finally {
      for (const worker of workers) worker.child.kill("SIGKILL");
    }
  });
});
