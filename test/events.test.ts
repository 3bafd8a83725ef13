// Lifecycle events (underway.events$) from real workers on a real database:
// each kind is seen, in order, for real tasks; nothing is emitted into the
// worker's own call; a slow subscriber loses nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import type { Subscription } from "rxjs";
import { FatalError, defineJob, type TaskEvent, type Underway } from "../src/index.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { spawnFixture } from "./support/processes.ts";

const N = t.type({ n: t.number });

/** Every event of `underway` from now on, for assertions. */
const record = (underway: Underway) => {
  const events: TaskEvent[] = [];
  const subscription: Subscription = underway.events$.subscribe((event) => events.push(event));
  const of = (taskId: string) =>
    events.filter((event) => "taskId" in event && event.taskId === taskId).map((event) => event._tag);
  return { events, of, stop: () => subscription.unsubscribe() };
};

describe("lifecycle events", () => {
  const { db, connect } = useDatabase("events");

  it("a retry then a success: enqueued, started, retrying, started, succeeded, with times", async () => {
    const underway = await connect();
    const seen = record(underway);
    const job = underway.job(
      defineJob({ queue: "ev_retry", input: N, options: { retry: { initialIntervalMs: 20, jitter: 0 } } }),
    );
    const id = await job.enqueue({ n: 1 });
    const worker = job.start(async (_input, { attempt }) => {
      await new Promise((done) => setTimeout(done, 30));
      if (attempt === 1) throw new Error("flaky");
      return null;
    });
    try {
      assert.equal(await job.result(id), null);
      await eventually(() => seen.of(id).length === 4, 5_000, "four attempt events");
      assert.deepEqual(seen.of(id), ["started", "retrying", "started", "succeeded"]);
      const enqueued = seen.events.find((event) => event._tag === "enqueued");
      assert.ok(enqueued?._tag === "enqueued");
      assert.deepEqual([enqueued.queue, enqueued.count, enqueued.taskIds], ["ev_retry", 1, [id]]);
      const mine = seen.events.filter((event) => "taskId" in event && event.taskId === id);
      const [started, retrying, restarted, succeeded] = mine;
      assert.ok(started?._tag === "started" && started.attempt === 1 && started.waitMs >= 0);
      assert.ok(retrying?._tag === "retrying" && retrying.error === "flaky" && retrying.runMs >= 25);
      assert.ok(restarted?._tag === "started" && restarted.attempt === 2);
      // Due 20 ms after the failure; the wait is counted from then.
      assert.ok(restarted.waitMs >= 0 && restarted.waitMs < 2_000, `wait ${restarted.waitMs}`);
      assert.ok(succeeded?._tag === "succeeded" && succeeded.attempt === 2 && succeeded.runMs >= 25);
      assert.equal(succeeded.queue, "ev_retry");
      const claims = seen.events.filter((event) => event._tag === "claimed" && event.count > 0);
      assert.ok(claims.length >= 2, "each claim that got the task was reported");
    } finally {
      await worker.stop();
      seen.stop();
    }
  });

  it("a fatal error: started, failed, deadLettered", async () => {
    const underway = await connect();
    const seen = record(underway);
    const job = underway.job(defineJob({ queue: "ev_fatal", dlq: "ev_fatal_dlq", input: N }));
    const id = await job.enqueue({ n: 1 });
    const worker = job.start(async () => {
      throw new FatalError("no such user");
    });
    try {
      await assert.rejects(job.result(id));
      await eventually(() => seen.of(id).length === 3, 5_000, "three events");
      assert.deepEqual(seen.of(id), ["started", "failed", "deadLettered"]);
      const failed = seen.events.find((event) => event._tag === "failed");
      assert.ok(failed?._tag === "failed");
      assert.equal(failed.error, "no such user");
      assert.equal(failed.deadLetterQueue, "ev_fatal_dlq");
    } finally {
      await worker.stop();
      seen.stop();
    }
  });

  it("a cancel of a running task: started, cancelled", async () => {
    const underway = await connect();
    const seen = record(underway);
    const job = underway.job(defineJob({ queue: "ev_cancel", input: N }));
    const id = await job.enqueue({ n: 1 });
    const worker = job.start(
      (_input, { signal }) =>
        new Promise((_done, fail) => signal.addEventListener("abort", () => fail(signal.reason as Error))),
    );
    try {
      await eventually(() => seen.of(id).includes("started"), 5_000, "the start");
      assert.equal(await job.cancel(id), true);
      await eventually(() => seen.of(id).length === 2, 5_000, "the end");
      assert.deepEqual(seen.of(id), ["started", "cancelled"]);
    } finally {
      await worker.stop();
      seen.stop();
    }
  });

  it("a lease lost (the task reclaimed under it): started, leaseLost; the reaper reports the expiry", async () => {
    const underway = await connect();
    const seen = record(underway);
    const job = underway.job(defineJob({ queue: "ev_lease", input: N, options: { heartbeatMs: 1_000 } }));
    const id = await job.enqueue({ n: 1 });
    const worker = job.start(
      (_input, { signal, attempt }) =>
        attempt > 2
          ? Promise.resolve(null)
          : new Promise((_done, fail) =>
              signal.addEventListener("abort", () => fail(signal.reason as Error)),
            ),
      { reapIntervalMs: 100, heartbeatTickMs: 50 },
    );
    try {
      await eventually(() => seen.of(id).includes("started"), 5_000, "the start");
      // As if another worker had reclaimed it: the next renewal, fenced by
      // the attempt, finds the task no longer this attempt's.
      await db().pool.query("update underway.task set attempt = attempt + 1 where id = $1", [id]);
      await eventually(() => seen.of(id).includes("leaseLost"), 5_000, "the lost lease");
      assert.deepEqual(seen.of(id).slice(0, 2), ["started", "leaseLost"]);
      // The lease then lapses and a reaper returns the task, which runs again.
      await eventually(
        () => seen.events.some((event) => event._tag === "leasesExpired" && event.queue === "ev_lease"),
        5_000,
        "the reaper's report",
      );
      assert.equal(await job.result(id), null);
      await eventually(() => seen.of(id).at(-1) === "succeeded", 5_000, "the success");
      assert.deepEqual(seen.of(id), ["started", "leaseLost", "started", "succeeded"]);
    } finally {
      await worker.stop();
      seen.stop();
    }
  });

  it("runOnce reports too; events reach subscribers after the worker's call, never inside it", async () => {
    const underway = await connect();
    const seen = record(underway);
    const job = underway.job(defineJob({ queue: "ev_once", input: N }));
    const id = await job.enqueue({ n: 1 });
    let startedSeenInHandler: boolean | undefined;
    const outcome = await job.runOnce(async () => {
      // The start was emitted before the handler ran: a synchronous
      // delivery would already have reached the subscriber.
      startedSeenInHandler = seen.of(id).includes("started");
      return null;
    });
    assert.equal(outcome?._tag, "succeeded");
    assert.equal(startedSeenInHandler, false);
    await eventually(() => seen.of(id).length === 2, 5_000, "the events");
    assert.deepEqual(seen.of(id), ["started", "succeeded"]);
    seen.stop();
  });

  it("a slow subscriber loses nothing and the worker does not wait for it", async () => {
    const underway = await connect();
    const slow: TaskEvent[] = [];
    const subscription = underway.events$.subscribe((event) => {
      const until = performance.now() + 20;
      while (performance.now() < until); // a subscriber that blocks 20 ms per event
      slow.push(event);
    });
    const job = underway.job(defineJob({ queue: "ev_slow", input: N }));
    const ids = await job.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ n })));
    const worker = job.start(async () => null, { concurrency: 8 });
    try {
      await Promise.all(ids.map((id) => job.result(id)));
      const finished = Date.now();
      // Every task's start and success, in order per task, nothing dropped.
      await eventually(() => slow.filter((event) => event._tag === "succeeded").length === 20, 10_000, "all");
      for (const id of ids) {
        const tags = slow
          .filter((event) => "taskId" in event && event.taskId === id)
          .map((event) => event._tag);
        assert.deepEqual(tags, ["started", "succeeded"]);
      }
      // The subscriber was still working through its backlog after the tasks were done.
      assert.ok(Date.now() - finished > 100, "the events were delivered behind the worker");
    } finally {
      subscription.unsubscribe();
      await worker.stop();
    }
  });

  it("subscribers of events$, outcomes$ and a worker's outcomes$ that throw in next and complete: the process lives, every task succeeds once, close() resolves", async () => {
    const tasks = 30;
    const child = spawnFixture("throwingSubscribers", { url: db().url, tasks }, { stderr: "capture" });
    const code = await Promise.race([
      child.exited,
      child.waitFor((line) => line["closed"] === true, 60_000, "close() to resolve").then(() => child.exited),
    ]);
    assert.equal(
      code,
      0,
      `the process should live to close() and exit by itself (stderr: ${child.stderr()})`,
    );
    assert.deepEqual(
      child.lines.find((line) => "results" in line),
      { results: Array.from({ length: tasks }, (_, n) => n * 2) },
    );
    assert.deepEqual(child.lines.at(-1), { closed: true, succeededEvents: tasks, outcomes: tasks });
    const { rows } = await db().pool.query<{ state: string; attempt: number; n: number }>(
      "select state::text, attempt, count(*)::int as n from underway.task_all where queue_name = 'throwing' group by 1, 2",
    );
    assert.deepEqual(
      rows,
      [{ state: "succeeded", attempt: 1, n: tasks }],
      "each task succeeded on its first attempt",
    );
    // Each throw is logged at error level, by the default (console) logger.
    const stderr = child.stderr();
    for (const where of [
      "events$ next",
      "piped events$ next",
      "events$ complete",
      "outcomes$ next",
      "outcomes$ complete",
      "worker outcomes$ next",
      "worker outcomes$ complete",
    ])
      assert.ok(stderr.includes(`subscriber throws in ${where}`), `the ${where} throw is logged`);
    // An async subscriber's rejection is caught and logged like a throw.
    for (const where of ["events$ next", "outcomes$ next", "worker outcomes$ next"])
      assert.ok(stderr.includes(`async subscriber rejects in ${where}`), `the ${where} rejection is logged`);
    assert.match(stderr, /a subscriber's next callback threw; ignored, delivery goes on/);
  });
});
