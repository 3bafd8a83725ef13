// Races of per-key concurrency and cancellation (issue 9, items 14 and 15;
// docs/design/concurrency-keys.md). Each test failed on the design before
// migration 0006, as noted on it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import type pg from "pg";
import { defineJob, defineStepJob, done, next, Steps, TaskFailedError } from "../src/index.ts";
import { storeOf } from "../src/db/store.ts";
import { readQueries } from "../src/sql.ts";
import { createRunTable, statesOf } from "./support/faults.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { spawnFixture, type FixtureProcess } from "./support/processes.ts";

const N = t.type({ n: t.number });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("races", () => {
  const { db, connect } = useDatabase("races");
  const store = storeOf({
    schema: "underway",
    queries: readQueries("underway"),
    preparedStatements: true,
    onCollision: () => undefined,
  });

  /** The most tasks of each key of a queue in progress right now. */
  const runningPerKey = async (queue: string): Promise<Record<string, number>> => {
    const { rows } = await db().pool.query<{ key: string; n: number }>(
      `select concurrency_key as key, count(*)::int as n from underway.task_all
        where queue_name = $1 and state = 'in_progress' and concurrency_key is not null group by 1`,
      [queue],
    );
    return Object.fromEntries(rows.map((row) => [row.key, row.n]));
  };

  // Old design: the second claim of each transaction waited on the other's
  // uncommitted insert of a new slot row, and PostgreSQL killed one of them
  // with "deadlock detected".
  it("two claims taking two new keys in opposite order neither deadlock nor wait, and keys hold their limit", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "opposite", input: N }));
    // Claim order is priority order: a1, b1, b2, a2. The first claim of each
    // transaction takes a new key (a, then b, SKIP LOCKED passing a1); the
    // second claim of each then meets the key the other one holds.
    const enqueue = (key: string, priority: number) =>
      job.enqueue({ n: priority }, { concurrencyKey: key, concurrencyLimit: 1, priority });
    await enqueue("a", 40);
    await enqueue("b", 30);
    await enqueue("b", 20);
    await enqueue("a", 10);
    const [one, two] = [await db().pool.connect(), await db().pool.connect()];
    try {
      for (const client of [one, two]) {
        await client.query("begin");
        // A claim that waits at all fails this test, however long the wait.
        await client.query("set local lock_timeout = '3s'");
      }
      const claim = async (client: pg.PoolClient): Promise<string[]> => {
        const rows = await store.tasksClaim(client, { queue: "opposite", limit: 1, workerId: "test" })();
        if (rows._tag === "Left") throw rows.left.cause;
        return rows.right.map((row) => row.concurrencyKey ?? "?");
      };
      assert.deepEqual(await claim(one), ["a"]);
      assert.deepEqual(await claim(two), ["b"]);
      const started = Date.now();
      const [second, third] = await Promise.all([claim(one), claim(two)]);
      assert.ok(Date.now() - started < 1_000, `claims waited ${Date.now() - started} ms`);
      // Each key is held by the other open transaction: nothing more is admitted.
      assert.deepEqual([second, third], [[], []]);
      await one.query("commit");
      await two.query("commit");
    } finally {
      // Destroyed, not returned: a failed run leaves them in an aborted transaction.
      one.release(true);
      two.release(true);
    }
    assert.deepEqual(await runningPerKey("opposite"), { a: 1, b: 1 });
    // With both committed, a key at its limit stays closed; a new claim admits nothing.
    const more = await store.tasksClaim(db().pool, { queue: "opposite", limit: 10, workerId: "test" })();
    assert.deepEqual(more._tag === "Right" ? more.right.length : -1, 0);
  });

  // Verifies the admission trigger's snapshot: a claim statement whose
  // snapshot predates another claim's commit still counts that claim's row.
  it("a claim counts rows committed after its statement began, and its own earlier rows", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "fresh", input: N }));
    const same = await job.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }], {
      concurrencyKey: "same",
      concurrencyLimit: 2,
    });
    const claimIds = async (db: pg.ClientBase | pg.Pool, ids: ReadonlyArray<string>) =>
      (
        await db.query<{ id: string }>(
          `update underway.task set state = 'in_progress', attempt = attempt + 1, started_at = now()
            where id = any($1::bigint[]) returning id::text`,
          [ids],
        )
      ).rows.map((row) => row.id);
    // One statement, three rows of a key of limit 2: the third sees the first two.
    assert.equal((await claimIds(db().pool, same)).length, 2);

    const [blocker] = await job.enqueueMany([{ n: 4 }]);
    const stale = await job.enqueueMany([{ n: 5 }, { n: 6 }], {
      concurrencyKey: "stale",
      concurrencyLimit: 1,
    });
    const [holder, late] = [await db().pool.connect(), await db().pool.connect()];
    try {
      // `late` takes its snapshot, then waits on `blocker`, locked by `holder`;
      // meanwhile another claim of the key commits.
      await holder.query("begin");
      await holder.query("select 1 from underway.task where id = $1 for update", [blocker]);
      const lateClaim = claimIds(late, [blocker ?? "", stale[1] ?? ""]);
      await sleep(300);
      assert.deepEqual(await claimIds(db().pool, [stale[0] ?? ""]), [stale[0]]);
      await holder.query("commit");
      assert.deepEqual(
        await lateClaim,
        [blocker],
        "the late claim counted the row committed after its snapshot",
      );
    } finally {
      holder.release(true);
      late.release(true);
    }
    assert.deepEqual(await runningPerKey("fresh"), { same: 2, stale: 1 });
  });

  // Old design: the cancel marked the task cancelled at once, which freed its
  // key's slot, and task 2 started while task 1's handler still ran.
  it("a cancelled task whose handler ignores the signal keeps its key until the handler ends", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "deaf", input: N }));
    const spans = new Map<number, { start: number; end?: number }>();
    let signalFired = false;
    const worker = job.start(
      async ({ n }, { signal }) => {
        spans.set(n, { start: Date.now() });
        if (n === 1) {
          signal.addEventListener("abort", () => (signalFired = true));
          await sleep(1_500); // deaf to the signal
        }
        const span = spans.get(n);
        if (span !== undefined) span.end = Date.now();
        return null;
      },
      { concurrency: 4, pollIntervalMs: 100 },
    );
    try {
      const options = { concurrencyKey: "k", concurrencyLimit: 1 };
      const first = await job.enqueue({ n: 1 }, options);
      await eventually(() => spans.has(1), 10_000, "task 1 to start");
      const second = await job.enqueue({ n: 2 }, options);
      assert.equal(await job.cancel(first), true);
      await eventually(() => signalFired, 5_000, "the signal to fire");
      const outcome = await job.outcome(first);
      assert.equal(outcome._tag, "cancelled");
      await assert.rejects(
        job.result(first),
        (error: unknown) => error instanceof TaskFailedError && error.state === "cancelled",
      );
      await eventually(() => spans.get(1)?.end !== undefined, 5_000, "task 1's handler to end");
      const ended = spans.get(1)?.end ?? 0;
      assert.equal((await job.outcome(second))._tag, "succeeded");
      const started = spans.get(2)?.start ?? 0;
      assert.ok(started >= ended, `task 2 started ${ended - started} ms before task 1's handler ended`);
      const { rows } = await db().pool.query(
        "select attempt, state from underway.task_attempt where task_id = $1",
        [first],
      );
      assert.deepEqual(rows, [{ attempt: 1, state: "cancelled" }]);
    } finally {
      await worker.stop();
    }
  });

  // Old design: a step completing between the cancel's two passes could
  // leave a next step running after cancel() had resolved true.
  it("a job cancel racing step completions never leaves a runnable step, and its outcome agrees", async () => {
    const underway = await connect();
    const looping = defineStepJob({ queue: "looping", input: t.type({ n: t.number }) });
    // Forty tiny steps per run: a cancel at a random moment most often meets
    // a step completing.
    const length = 40;
    let steps = Steps.of(looping).step(async ({ n }: { n: number }) => next({ n: n + 1 }));
    for (let index = 1; index < length - 1; index += 1)
      steps = steps.step(async ({ n }: { n: number }) => next({ n: n + 1 }));
    const chain = steps.step(async ({ n }: { n: number }) => done(n));
    const stepJob = underway.job(looping);
    const worker = stepJob.start(chain, { concurrency: 8, pollIntervalMs: 50 });
    const verdicts: string[] = [];
    try {
      const runs = 50;
      const jobIds: string[] = [];
      for (let i = 0; i < runs; i += 1) jobIds.push(await stepJob.enqueue({ n: 0 }));
      const cancelled = await Promise.all(
        jobIds.map(async (jobId) => {
          await sleep(Math.random() * 3_000);
          return stepJob.cancel(jobId);
        }),
      );
      for (const [index, jobId] of jobIds.entries()) {
        const outcome = await stepJob.outcome(jobId);
        verdicts.push(outcome._tag);
        // A cancel that found a live step wins; one that found none came after success.
        assert.equal(outcome._tag, cancelled[index] === true ? "cancelled" : "succeeded", `job ${jobId}`);
      }
      // Long enough for a leaked step to be claimed and enqueue another.
      await sleep(500);
      const { rows } = await db().pool.query<{ n: number }>(
        "select count(*)::int as n from underway.task_all where queue_name = 'looping' and state in ('pending', 'in_progress')",
      );
      assert.equal(rows[0]?.n, 0, "no step of a finished job is pending or running");
      const { rows: after } = await db().pool.query<{ n: number }>(
        `select count(*)::int as n from underway.task_all t
          where queue_name = 'looping' and exists (
            select 1 from underway.task_all c where c.job_id = t.job_id and c.state = 'cancelled'
              and c.step_index < t.step_index)`,
      );
      assert.equal(after[0]?.n, 0, "no step was enqueued after its job's cancelled step");
    } finally {
      await worker.stop();
    }
    assert.ok(verdicts.includes("cancelled"), "some cancels met a running job");
  });

  const kill = async (worker: FixtureProcess): Promise<void> => {
    worker.child.kill("SIGKILL");
    assert.equal(await worker.exited, "SIGKILL");
    await eventually(async () => {
      const { rows } = await db().pool.query("select 1 from pg_stat_activity where application_name = $1", [
        `faultWorker:${worker.pid}`,
      ]);
      return rows.length === 0;
    }, 10_000);
  };

  // Old design: the slot counter was reconciled by nothing. A SIGKILL alone
  // did not leak it (the reaper's state change gave the slot back), but a
  // task table emptied behind the triggers' back (TRUNCATE, a restore) left
  // the key at its limit forever.
  it("after a worker holding keyed tasks is killed, and after rows vanish behind the triggers, the key admits new tasks", async () => {
    const underway = await connect();
    await createRunTable(db().pool);
    const job = underway.job(
      defineJob({
        queue: "drift",
        input: N,
        options: { concurrencyKey: "k", concurrencyLimit: 2, heartbeatMs: 1_000 },
      }),
    );
    await job.enqueueMany([1, 2, 3, 4].map((n) => ({ n })));
    const base = { url: db().url, queue: "drift", concurrency: 4, pollIntervalMs: 100 };
    const victim = spawnFixture("faultWorker", { ...base, handlerMs: 60_000 });
    await eventually(
      async () => (await runningPerKey("drift"))["k"] === 2,
      20_000,
      "the victim to hold the key",
    );
    await kill(victim);
    const survivor = spawnFixture("faultWorker", {
      ...base,
      handlerMs: 20,
      reapIntervalMs: 200,
      stopOnSignals: true,
    });
    try {
      await eventually(
        async () => (await statesOf(db().pool, "drift"))["succeeded"] === 4,
        20_000,
        "every task of the key to succeed after the reaper",
      );

      // Two tasks of the key running, then every task row removed without
      // any trigger firing, as a restore or a TRUNCATE does.
      // Delayed, so no worker claims them: they are made running by hand.
      await job.enqueueMany(
        [5, 6].map((n) => ({ n })),
        { delayMs: 600_000 },
      );
      await db().pool.query(
        "update underway.task set state = 'in_progress' where queue_name = 'drift' and state = 'pending'",
      );
      await db().pool.query("truncate underway.task, underway.task_finished");
      await job.enqueueMany([7, 8].map((n) => ({ n })));
      await eventually(
        async () => (await statesOf(db().pool, "drift"))["succeeded"] === 2,
        10_000,
        "the key to admit tasks after its rows vanished",
      );
    } finally {
      survivor.child.kill("SIGTERM");
      await survivor.exited;
    }
  });
});
