// Queue pause and resume, across worker processes: a paused queue is not
// claimed (running tasks finish), the pause outlives the processes, and a
// resume wakes every worker at once.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { ValidationError, ConfigError, defineJob } from "../src/index.ts";
import { createRunTable, statesOf } from "./support/faults.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { spawnFixture } from "./support/processes.ts";

const N = t.type({ n: t.number });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("queue pause and resume", () => {
  const { db, connect } = useDatabase("pause");

  it("a paused queue is claimed by no process, even new ones; running tasks finish; resume wakes all at once", async () => {
    const underway = await connect();
    await createRunTable(db().pool);
    const job = underway.job(defineJob({ queue: "paused", input: N }));
    const other = underway.job(defineJob({ queue: "not_paused", input: N }));
    // A long poll: after the resume, only the NOTIFY can wake them quickly.
    const spawnWorker = () =>
      spawnFixture("faultWorker", { url: db().url, queue: "paused", handlerMs: 600, pollIntervalMs: 10_000 });
    const workers = [spawnWorker(), spawnWorker()];
    try {
      await Promise.all(workers.map((worker) => worker.waitFor((line) => line["ready"] === true)));
      // One task running when the pause comes: it finishes.
      const first = await job.enqueue({ n: 0 });
      await eventually(
        async () => (await statesOf(db().pool, "paused"))["in_progress"] === 1,
        10_000,
        "a run",
      );
      await underway.pauseQueue("paused");
      assert.ok((await underway.queuePausedAt("paused")) instanceof Date);
      assert.equal(await underway.queuePausedAt("not_paused"), null);
      const ids = await job.enqueueMany(Array.from({ length: 6 }, (_, n) => ({ n: n + 1 })));
      await other.enqueue({ n: 99 }); // another queue is not affected
      assert.ok((await job.result(first)) !== undefined, "the running task finished");

      // The pause outlives the processes: a new worker does not claim either.
      const victim = workers[0];
      assert.ok(victim !== undefined);
      victim.child.kill("SIGKILL");
      await victim.exited;
      workers.push(spawnWorker());
      await workers[2]?.waitFor((line) => line["ready"] === true);
      await sleep(1_500);
      assert.deepEqual(await statesOf(db().pool, "paused"), { succeeded: 1, pending: 6 });

      const { rows: clock } = await db().pool.query<{ now: Date }>("select now()");
      const resumed = Date.now();
      await underway.resumeQueue("paused");
      assert.equal(await underway.queuePausedAt("paused"), null);
      await eventually(
        async () => (await statesOf(db().pool, "paused"))["succeeded"] === 7,
        4_000,
        "every task after the resume",
      );
      // Woken by the resume's NOTIFY, not by the 10 s poll; none started before it.
      assert.ok(Date.now() - resumed < 4_000);
      const { rows } = await db().pool.query<{ started: Date }>(
        "select min(started_at) as started from underway.task_all where id = any($1::bigint[])",
        [ids],
      );
      assert.ok((rows[0]?.started.getTime() ?? 0) >= (clock[0]?.now.getTime() ?? Infinity));
    } finally {
      for (const worker of workers) worker.child.kill("SIGKILL");
    }
  });

  it("pausing is idempotent and validates the queue name; runOnce honours it", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "paused_once", input: N }));
    await underway.pauseQueue("paused_once");
    const at = await underway.queuePausedAt("paused_once");
    await underway.pauseQueue("paused_once");
    assert.deepEqual(await underway.queuePausedAt("paused_once"), at, "the first pause time is kept");
    await job.enqueue({ n: 1 });
    assert.equal(await job.runOnce(async () => null), undefined, "nothing is claimed while paused");
    await underway.resumeQueue("paused_once");
    assert.equal((await job.runOnce(async () => null))?._tag, "succeeded");
    await assert.rejects(() => underway.pauseQueue("no spaces"), ConfigError);
    assert.ok(ValidationError !== undefined);
  });
});
