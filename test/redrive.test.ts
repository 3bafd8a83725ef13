import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import {
  ConfigError,
  ValidationError,
  defineJob,
  redrive,
  sweepExpired,
  taskHistory,
  type Outcome,
  type Underway,
} from "../src/index.ts";
import { depsOf } from "../src/client/clientDeps.ts";
import { useDatabase } from "./support/harness.ts";

const Input = t.type({ n: t.number });

interface Row {
  readonly queue_name: string;
  readonly state: string;
  readonly attempt: number;
  readonly max_attempts: number;
  readonly attempt_budget: number | null;
  readonly dlq_from: string | null;
  readonly finished_at: Date | null;
  readonly error: string | null;
}

const byId = (a: string, b: string) => Number(a) - Number(b);

describe("redrive", () => {
  const { db, connect } = useDatabase("redrive");

  const rowOf = async (id: string): Promise<Row> => {
    const { rows } = await db().pool.query<Row>(
      `select queue_name, state, attempt, max_attempts, attempt_budget, dlq_from, finished_at, error
         from underway.task_all where id = $1`,
      [id],
    );
    const row = rows[0];
    if (row === undefined) throw new Error(`no task ${id}`);
    return row;
  };

  /** A queue with a dead-letter queue, and a job that never runs (no worker). */
  const idleJob = (underway: Underway, name: string) =>
    underway.job(
      defineJob({ queue: name, dlq: `${name}_dlq`, input: Input, options: { retry: { maxAttempts: 2 } } }),
    );

  /** What the worker does when a task fails for good, as of `ago`. */
  const deadLetter = async (
    ids: ReadonlyArray<string>,
    queue: string,
    error: string,
    ago = "1 minute",
    attempt = 2,
  ) => {
    await db().pool.query(
      `update underway.task
          set state = 'failed', queue_name = $2 || '_dlq', dlq_from = $2, error = $3, attempt = $5,
              finished_at = now() - $4::interval
        where id = any($1::bigint[])`,
      [ids, queue, error, ago, attempt],
    );
  };

  it("a task that exhausts its attempts lands in the DLQ; redriven by id, it runs with fresh attempts", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "signup",
        dlq: "signup_dlq",
        input: Input,
        output: t.type({ welcomed: t.number }),
        options: { retry: { maxAttempts: 2, initialIntervalMs: 10, maxIntervalMs: 50 } },
      }),
    );
    let failuresLeft = 2;
    const seen: Array<Outcome<{ welcomed: number }>> = [];
    const subscription = job.outcomes$.subscribe((outcome) => seen.push(outcome));
    await depsOf(underway).listener.ready("underway.outcome");
    const worker = job.start(
      async ({ n }) => {
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error("mail server unreachable");
        }
        return { welcomed: n };
      },
      { pollIntervalMs: 50 },
    );
    try {
      const id = await job.enqueue({ n: 7 });
      const failed = await job.outcome(id);
      assert.equal(failed._tag, "failed");
      assert.equal(failed._tag === "failed" && failed.deadLetterQueue, "signup_dlq");
      const dead = await rowOf(id);
      assert.deepEqual(
        [dead.queue_name, dead.state, dead.attempt, dead.max_attempts, dead.dlq_from],
        ["signup_dlq", "failed", 2, 2, "signup"],
      );

      failuresLeft = 1; // one more failure: the redriven task needs a retry of its fresh budget
      assert.deepEqual(await redrive(underway, "signup_dlq", { ids: [id] }), [id]);
      const done = await job.outcome(id);
      assert.equal(done._tag, "succeeded");
      assert.deepEqual(done._tag === "succeeded" && done.output, { welcomed: 7 });
      assert.equal(done.attempt, 4, "attempt numbers go on counting");

      const row = await rowOf(id);
      assert.deepEqual(
        [row.queue_name, row.state, row.attempt, row.max_attempts, row.attempt_budget, row.dlq_from],
        ["signup", "succeeded", 4, 4, 2, null],
      );
      assert.ok(row.finished_at !== null);

      const history = await taskHistory(underway, id);
      assert.deepEqual(
        history.map((entry) =>
          entry._tag === "attempt" ? `${entry.attempt} ${entry.state}` : `${entry.attempt} ${entry.kind}`,
        ),
        ["1 failed", "2 failed", "2 redriven", "3 failed", "4 succeeded"],
      );
      const event = history[2];
      assert.ok(event?._tag === "event");
      assert.deepEqual(event.details, { from: "signup_dlq", to: "signup", maxAttempts: 4 });

      // The outcome stream reports what the task did; the redrive itself is
      // no outcome (in particular not a "retrying").
      await new Promise((settle) => setTimeout(settle, 200));
      assert.deepEqual(
        seen
          .filter((outcome) => outcome.taskId === id)
          .map((outcome) => `${outcome.attempt} ${outcome._tag}`),
        ["1 retrying", "2 failed", "3 retrying", "4 succeeded"],
      );
    } finally {
      subscription.unsubscribe();
      await worker.stop();
    }
  });

  it("wakes the queue's workers at once (NOTIFY), not at their next poll", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({ queue: "wake", dlq: "wake_dlq", input: Input, options: { retry: { maxAttempts: 1 } } }),
    );
    let calls = 0;
    const worker = job.start(
      async () => {
        calls += 1;
        if (calls === 1) throw new Error("first call fails");
        return "ok";
      },
      { pollIntervalMs: 60_000 },
    );
    try {
      // Its LISTEN is active: a NOTIFY from now on wakes it.
      await underway.listening();
      const id = await job.enqueue({ n: 1 });
      assert.equal((await job.outcome(id, { pollIntervalMs: 100 }))._tag, "failed");
      await new Promise((settle) => setTimeout(settle, 300));
      const redrivenAt = Date.now();
      assert.deepEqual(await redrive(underway, "wake_dlq"), [id]);
      assert.equal((await job.outcome(id, { pollIntervalMs: 100 }))._tag, "succeeded");
      assert.ok(Date.now() - redrivenAt < 3_000, "woken by NOTIFY, not the 60 s poll");
    } finally {
      await worker.stop();
    }
  });

  it("filters by ids, error text, failure time and limit; no filter moves all", async () => {
    const underway = await connect();
    const job = idleJob(underway, "filters");
    const [smtpOld1, smtpOld2, smtpNew, invalid1, invalid2, strayId, live] = await job.enqueueMany(
      Array.from({ length: 7 }, (_, n) => ({ n })),
    );
    const id = (value: string | undefined): string => value ?? assert.fail("missing id");
    await deadLetter([id(smtpOld1), id(smtpOld2)], "filters", "SMTP timeout talking to mx1", "2 days");
    await deadLetter([id(smtpNew)], "filters", "smtp TIMEOUT after 30s", "1 minute");
    await deadLetter([id(invalid1)], "filters", "invalid address", "3 days");
    await deadLetter([id(invalid2)], "filters", "invalid address", "2 hours");
    // In the dead-letter queue but not from anywhere: no queue to go back to.
    await db().pool.query(
      "update underway.task set state = 'failed', queue_name = 'filters_dlq', finished_at = now() where id = $1",
      [strayId],
    );
    const other = idleJob(underway, "other");
    const [otherId] = await other.enqueueMany([{ n: 0 }]);
    await deadLetter([id(otherId)], "other", "SMTP timeout");

    assert.deepEqual(
      await redrive(underway, "filters_dlq", { ids: [] }),
      [],
      "an empty id list is no filter",
    );
    assert.deepEqual(await redrive(underway, "filters_dlq", { ids: [id(live), id(otherId)] }), []);
    const dayAgo = new Date(Date.now() - 24 * 3_600_000);
    assert.deepEqual(
      await redrive(underway, "filters_dlq", { filter: { errorLike: "smtp timeout", failedBefore: dayAgo } }),
      [smtpOld1, smtpOld2],
    );
    assert.deepEqual(await redrive(underway, "filters_dlq", { filter: { errorLike: "TimeOut" } }), [smtpNew]);
    assert.deepEqual(await redrive(underway, "filters_dlq", { filter: { errorLike: "%" } }), []);
    assert.deepEqual(
      await redrive(underway, "filters_dlq", { limit: 1 }),
      [invalid1],
      "oldest failure first",
    );
    assert.deepEqual(await redrive(underway, "filters_dlq"), [invalid2]);
    assert.deepEqual(await redrive(underway, "filters_dlq"), []);

    const moved = [smtpOld1, smtpOld2, smtpNew, invalid1, invalid2].map(id);
    for (const movedId of moved) {
      const row = await rowOf(movedId);
      assert.deepEqual(
        [row.queue_name, row.state, row.max_attempts, row.dlq_from, row.finished_at, row.error],
        ["filters", "pending", 4, null, null, null],
      );
    }
    assert.equal((await rowOf(id(strayId))).queue_name, "filters_dlq");
    assert.equal((await rowOf(id(otherId))).queue_name, "other_dlq");
    assert.deepEqual(await redrive(underway, "other_dlq", { ids: [id(otherId)] }), [otherId]);

    await assert.rejects(redrive(underway, "filters_dlq", { ids: ["1; drop table"] }), ValidationError);
    await assert.rejects(redrive(underway, "filters_dlq", { limit: 0 }), ConfigError);
    await assert.rejects(redrive(underway, "no such queue!"), /invalid queue name/);
  });

  it("each redrive grants the policy's budget again, not the raised maximum", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({ queue: "budget", dlq: "budget_dlq", input: Input, options: { retry: { maxAttempts: 3 } } }),
    );
    const id = await job.enqueue({ n: 1 });
    await deadLetter([id], "budget", "boom", "1 minute", 3);
    await redrive(underway, "budget_dlq");
    assert.deepEqual([(await rowOf(id)).max_attempts, (await rowOf(id)).attempt_budget], [6, 3]);
    // A fatal error after one more attempt: dead-lettered at attempt 4.
    await deadLetter([id], "budget", "fatal", "1 minute", 4);
    await redrive(underway, "budget_dlq");
    assert.deepEqual([(await rowOf(id)).attempt, (await rowOf(id)).max_attempts], [4, 7]);
    const events = (await taskHistory(underway, id)).filter((entry) => entry._tag === "event");
    assert.equal(events.length, 2);
  });

  it("a task whose unique key a live task holds stays in the DLQ", async () => {
    const underway = await connect();
    const job = idleJob(underway, "unique");
    const older = await job.enqueue({ n: 1 }, { uniqueKey: "k1" });
    await deadLetter([older], "unique", "boom", "2 minutes");
    const newer = await job.enqueue({ n: 2 }, { uniqueKey: "k1" });
    await deadLetter([newer], "unique", "boom", "1 minute");
    const blocked = await job.enqueue({ n: 3 }, { uniqueKey: "k2" });
    await deadLetter([blocked], "unique", "boom");
    const live = await job.enqueue({ n: 4 }, { uniqueKey: "k2" });
    assert.notEqual(live, blocked);

    assert.deepEqual(await redrive(underway, "unique_dlq"), [older]);
    assert.deepEqual(await redrive(underway, "unique_dlq"), []);
    assert.equal((await rowOf(newer)).state, "failed");
    assert.equal((await rowOf(blocked)).queue_name, "unique_dlq");
  });

  it("concurrent redrives move every task exactly once", async () => {
    const underway = await connect();
    const job = idleJob(underway, "crowd");
    const ids = await job.enqueueMany(Array.from({ length: 600 }, (_, n) => ({ n })));
    await deadLetter(ids, "crowd", "boom");
    const results = await Promise.all([1, 2, 3].map(() => redrive(underway, "crowd_dlq", { batchSize: 25 })));
    const moved = results.flat();
    assert.equal(new Set(moved).size, moved.length, "no task moved twice");
    assert.deepEqual([...moved].sort(byId), [...ids].sort(byId));
    const { rows } = await db().pool.query<{ n: number }>(
      "select count(*)::int as n from underway.task_event where task_id = any($1::bigint[])",
      [ids],
    );
    assert.equal(rows[0]?.n, ids.length);
  });

  it("a redriven task is live again: retention leaves it alone", async () => {
    const underway = await connect();
    const job = idleJob(underway, "kept");
    const id = await job.enqueue({ n: 1 }, { ttlMs: 1 });
    await deadLetter([id], "kept", "boom", "1 hour");
    assert.deepEqual(await redrive(underway, "kept_dlq"), [id]);
    assert.equal(await sweepExpired(underway), 0);
    assert.equal((await rowOf(id)).state, "pending");
  });

  it("restarts backoff at the initial interval after a redrive", async () => {
    const underway = await connect();
    const retry = { maxAttempts: 2, initialIntervalMs: 100, backoffCoefficient: 10, jitter: 0 };
    const job = underway.job(
      defineJob({ queue: "backoff", dlq: "backoff_dlq", input: Input, options: { retry } }),
    );
    const down = async (): Promise<null> => {
      throw new Error("down");
    };
    const worker = job.start(down, { pollIntervalMs: 50 });
    const id = await job.enqueue({ n: 1 });
    await job.outcome(id);
    await worker.stop();
    // Make the redriven run's first attempt fail, then look at the delay it got.
    await redrive(underway, "backoff_dlq", { ids: [id] });
    const again = job.start(down, { pollIntervalMs: 50 });
    const gapOf = async (attempt: number) => {
      const { rows } = await db().pool.query<{ gap: number | null }>(
        `select extract(epoch from (t.run_at - a.finished_at)) * 1000 as gap
           from underway.task_all t join underway.task_attempt a on a.task_id = t.id
          where t.id = $1 and a.attempt = $2 and t.state = 'pending'`,
        [id, attempt],
      );
      return rows[0]?.gap;
    };
    let gap: number | null | undefined;
    const deadline = Date.now() + 10_000;
    while ((gap = await gapOf(3)) === undefined && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    await again.stop();
    // Attempt 3 is the first of the new run: 100 ms, not 100 * 10^2.
    assert.equal(Math.round(Number(gap)), 100);
  });
});
