// runOnce and drain run a task through the worker's own attempt pipeline
// (src/worker/attempt.ts): leases renewed and cancel requests heard by the
// worker's upkeep on the scheduler they are given (src/worker/upkeep.ts),
// and a shutdown that stops waiting for a cancelled handler, as a worker's
// grace period does.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { VirtualTimeScheduler } from "rxjs";
import { defineJob, type Handler } from "../src/index.ts";
import type { Underway } from "../src/underway.ts";
import { depsOf } from "../src/client/clientDeps.ts";
import { executeDeps, handlerRunner } from "../src/run/taskRunner.ts";
import { drain } from "../src/worker/runOnce.ts";
import { eventually, gate, useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A scheduler moved by hand: `advance` runs what falls due and leaves the clock there. */
const virtualClock = () => {
  const scheduler = new VirtualTimeScheduler();
  const advance = (ms: number) => {
    scheduler.maxFrames = scheduler.frame + ms;
    scheduler.flush();
    scheduler.frame = scheduler.maxFrames;
  };
  return { scheduler, advance };
};

describe("runOnce and drain on the worker's attempt pipeline", () => {
  const { db, connect } = useDatabase("attempt_pipeline");

  const task = async (id: string) => {
    const { rows } = await db().pool.query<{ state: string; attempt: number; lease: Date | null }>(
      "select state::text, attempt, lease_expires_at as lease from underway.task_all where id = $1",
      [id],
    );
    if (rows[0] === undefined) throw new Error(`no task ${id}`);
    return rows[0];
  };
  // drain as runHere calls it, on a scheduler of the test's.
  const drainOn = (
    underway: Underway,
    queue: string,
    handler: Handler<{ n: number }, null>,
    clock: ReturnType<typeof virtualClock>,
  ) => {
    const definition = defineJob({ queue, input: N });
    const deps = {
      ...executeDeps(depsOf(underway), definition, handlerRunner(definition, handler)),
      workerId: "test:virtual",
      scheduler: clock.scheduler,
    };
    return drain(deps, {});
  };

  it("drain renews a lease on its scheduler's tick: a handler past three lease lengths keeps it and succeeds at attempt 1", async () => {
    const underway = await connect();
    const clock = virtualClock();
    const leaseMs = 60_000;
    const id = await underway
      .job(defineJob({ queue: "virtual_lease", input: N }))
      .enqueue({ n: 1 }, { heartbeatMs: leaseMs });
    const started = gate();
    const release = gate();
    const drained = drainOn(
      underway,
      "virtual_lease",
      async () => {
        started.open();
        await release.opened;
        return null;
      },
      clock,
    );
    try {
      await started.opened;
      const leases = new Set<number>();
      const claimedLease = (await task(id)).lease?.getTime();
      // Virtual time only: the database's lease (a minute of real time) never
      // lapses here; what is tested is that renewals follow the scheduler given.
      while (clock.scheduler.frame < 3.5 * leaseMs) {
        clock.advance(2_000);
        await sleep(20);
        const lease = (await task(id)).lease?.getTime();
        if (lease !== undefined && lease !== claimedLease) leases.add(lease);
      }
      // A renewal a third through each lease: ten in 3.5 lease lengths (one
      // may still be in flight when sampled).
      assert.ok(leases.size >= 9, `renewed ${leases.size} times in 3.5 lease lengths of virtual time`);
    } finally {
      release.open();
    }
    assert.deepEqual(await drained, {
      ran: 1,
      succeeded: 1,
      retrying: 0,
      snoozed: 0,
      failed: 0,
      cancelled: 0,
      lost: 0,
    });
    const done = await task(id);
    assert.deepEqual([done.state, done.attempt], ["succeeded", 1]);
  });

  it("runOnce keeps a one-second lease on real time while its handler runs three and a half lease lengths", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "real_lease", input: N }));
    const id = await job.enqueue({ n: 1 }, { heartbeatMs: 1_000 });
    let running = true;
    const ran = job.runOnce(async () => {
      await sleep(3_500);
      running = false;
      return null;
    });
    // The lease, sampled while the handler runs, never falls into the past.
    let samples = 0;
    await eventually(() => task(id).then((row) => row.state === "in_progress"), 5_000, "the task to run");
    while (running) {
      const { rows } = await db().pool.query<{ kept: boolean }>(
        "select state = 'in_progress' and lease_expires_at > now() as kept from underway.task where id = $1",
        [id],
      );
      if (running) assert.equal(rows[0]?.kept, true, `lease lapsed after ${samples} samples`);
      samples += 1;
      await sleep(100);
    }
    const outcome = await ran;
    assert.deepEqual([outcome?._tag, outcome?.attempt], ["succeeded", 1]);
    assert.ok(samples >= 20, `${samples} samples`);
  });

  it("drain hears a cancel whose NOTIFY it missed at its next renewal, on its scheduler's tick: the task ends cancelled", async () => {
    const underway = await connect();
    const clock = virtualClock();
    const id = await underway
      .job(defineJob({ queue: "virtual_cancel", input: N }))
      .enqueue({ n: 1 }, { heartbeatMs: 60_000 });
    const started = gate();
    const giveUp = gate();
    let reason: unknown;
    const drained = drainOn(
      underway,
      "virtual_cancel",
      async (_input, { signal }) => {
        started.open();
        const aborted = new Promise((done) => signal.addEventListener("abort", done, { once: true }));
        await Promise.race([aborted, giveUp.opened]);
        reason = signal.reason;
        return null;
      },
      clock,
    );
    try {
      await started.opened;
      // A cancel request without its NOTIFY (as if the LISTEN connection was down).
      await db().pool.query("update underway.task set cancel_requested_at = now() where id = $1", [id]);
      await eventually(
        () => {
          clock.advance(2_000);
          return reason !== undefined;
        },
        5_000,
        "the renewal to fire the handler's signal",
      );
    } finally {
      giveUp.open();
    }
    assert.equal((reason as { kind?: string }).kind, "cancelled");
    assert.deepEqual(await drained, {
      ran: 1,
      succeeded: 0,
      retrying: 0,
      snoozed: 0,
      failed: 0,
      cancelled: 1,
      lost: 0,
    });
    assert.equal((await task(id)).state, "cancelled");
  });

  it("a shutdown signal stops a drain waiting on a cancelled handler that ignores its signal, as a worker's grace period does", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "drain_abandon", input: N }));
    const id = await job.enqueue({ n: 1 });
    const release = gate();
    let cancelSeen = false;
    const controller = new AbortController();
    const drained = job.drain(
      async (_input, { signal, taskId }) => {
        void job.cancel(taskId);
        await new Promise((done) => signal.addEventListener("abort", done, { once: true }));
        cancelSeen = true;
        // Ignores its signal: goes on until the test lets it.
        await release.opened;
        return null;
      },
      { signal: controller.signal },
    );
    try {
      await eventually(() => cancelSeen, 10_000, "the cancel to reach the handler");
      controller.abort();
      const result = await Promise.race([drained, sleep(5_000).then(() => "still waiting")]);
      // Nothing written by the drain: the lease lapses and the reaper ends the task cancelled.
      assert.deepEqual(result, {
        ran: 1,
        succeeded: 0,
        retrying: 0,
        snoozed: 0,
        failed: 0,
        cancelled: 0,
        lost: 1,
      });
      assert.equal((await task(id)).state, "in_progress");
    } finally {
      release.open();
      await drained;
    }
  });
});
