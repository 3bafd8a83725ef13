// Snooze (issue 21, part 4): a handler returns or throws snooze(ms) and its
// task goes back to pending for that long, the attempt not spent, recorded
// in its history; capped by the definition's maxSnoozes; a cancel wins.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import {
  ConfigError,
  defineJob,
  defineStepJob,
  done,
  next,
  snooze,
  Snooze,
  Steps,
  transactional,
  type TaskContext,
} from "../src/index.ts";
import { runCli } from "../src/cli/runCli.ts";
import { useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });

describe("snooze", () => {
  const { db, connect } = useDatabase("snooze");

  it("a snooze spends no attempt: with maxAttempts 1, three snoozes then a success at attempt 1, each in its history", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "snooze_budget",
        input: N,
        output: t.number,
        options: { retry: { maxAttempts: 1 } },
      }),
    );
    const seen: Array<[number, number]> = [];
    let runs = 0;
    const worker = job.start(
      async ({ n }, { attempt, maxAttempts }: TaskContext) => {
        seen.push([attempt, maxAttempts]);
        runs += 1;
        // Both forms: thrown and returned (typed never, so the return type stays number).
        if (runs === 1) throw snooze(50);
        if (runs <= 3) return snooze(50);
        return n * 2;
      },
      { pollIntervalMs: 50 },
    );
    try {
      const id = await job.enqueue({ n: 21 });
      assert.equal(await job.result(id), 42);
      assert.deepEqual(seen, [
        [1, 1],
        [1, 1],
        [1, 1],
        [1, 1],
      ]);
      const detail = await underway.ops.task(id);
      assert.equal(detail?.attempt, 1);
      const history = detail?.history ?? [];
      assert.deepEqual(
        history.map((entry) => (entry._tag === "attempt" ? `#${entry.attempt} ${entry.state}` : entry.kind)),
        ["snoozed", "snoozed", "snoozed", "#1 succeeded"],
      );
      for (const [index, entry] of history.slice(0, 3).entries()) {
        assert.ok(entry._tag === "event");
        assert.equal(entry.attempt, 1);
        assert.equal(entry.details["delayMs"], 50);
        assert.equal(entry.details["snoozes"], index + 1);
        assert.equal(typeof entry.details["until"], "string");
      }
      const { rows } = await db().pool.query<{ snoozes: number }>(
        "select snoozes from underway.task_all where id = $1",
        [id],
      );
      assert.equal(rows[0]?.snoozes, 3);
      // The command line shows the same history.
      let printed = "";
      const code = await runCli(
        ["tasks", "show", id],
        { out: (text) => (printed += text), err: (text) => (printed += text) },
        { DATABASE_URL: db().url },
      );
      assert.equal(code, 0, printed);
      assert.equal(printed.match(/ {2}snoozed in attempt 1 .*"delayMs":50/g)?.length, 3, printed);
      assert.match(printed, /snoozes?":3[\s\S]*#1 succeeded/);
      // Only the attempt's real end is an attempt row.
      assert.deepEqual(
        (await job.attempts(id)).map((attempt) => [attempt.attempt, attempt.state]),
        [[1, "succeeded"]],
      );
    } finally {
      await worker.stop();
    }
  });

  it("runOnce and drain: a snooze is a snoozed outcome, the task pending again, due after its delay", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "snooze_inline", input: N }));
    const id = await job.enqueue({ n: 1 });
    const outcome = await job.runOnce(async () => snooze(60_000));
    assert.ok(outcome?._tag === "snoozed");
    assert.deepEqual([outcome.taskId, outcome.attempt, outcome.delayMs, outcome.snoozes], [id, 1, 60_000, 1]);
    const { rows } = await db().pool.query<{ state: string; attempt: number; due_in: number }>(
      `select state::text, attempt, extract(epoch from run_at - now()) * 1000 as due_in
         from underway.task where id = $1`,
      [id],
    );
    assert.equal(rows[0]?.state, "pending");
    assert.equal(rows[0]?.attempt, 0, "the attempt went back: not spent");
    assert.ok((rows[0]?.due_in ?? 0) > 55_000 && (rows[0]?.due_in ?? 0) <= 60_000, String(rows[0]?.due_in));
    // Not due: nothing to run now.
    assert.equal(await job.runOnce(async () => null), undefined);

    const other = await job.enqueue({ n: 2 });
    const counts = await job.drain(async ({ n }) => (n === 2 ? snooze(0) : null));
    // snooze(0) is due at once: the drain runs it again and again, until the cap.
    assert.equal(counts.snoozed, 100, JSON.stringify(counts));
    assert.equal(counts.failed, 1, JSON.stringify(counts));
    const failed = await job.outcome(other);
    assert.ok(failed._tag === "failed");
    assert.match(failed.error, /snoozed 100 times, its definition's maxSnoozes \(100\)/);
    assert.equal(failed.attempt, 1);
  });

  it("the cap: past maxSnoozes, a task that always snoozes fails with SnoozeLimitError instead of looping", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({ queue: "snooze_cap", input: N, maxSnoozes: 2, dlq: "snooze_cap_dlq" }),
    );
    const id = await job.enqueue({ n: 1 });
    let runs = 0;
    const worker = job.start(
      async () => {
        runs += 1;
        return snooze(10);
      },
      { pollIntervalMs: 50 },
    );
    try {
      const outcome = await job.outcome(id);
      assert.ok(outcome._tag === "failed");
      assert.equal(outcome.deadLetterQueue, "snooze_cap_dlq");
      assert.match(
        outcome.error,
        /snoozed 2 times, its definition's maxSnoozes \(2\): it fails rather than snooze again/,
      );
      assert.equal(runs, 3);
      const attempts = await job.attempts(id);
      assert.deepEqual(
        attempts.map((attempt) => [attempt.attempt, attempt.state, attempt.errorName]),
        [[1, "failed", "SnoozeLimitError"]],
      );
    } finally {
      await worker.stop();
    }
    // maxSnoozes 0: no snooze allowed at all.
    const none = underway.job(defineJob({ queue: "snooze_none", input: N, maxSnoozes: 0 }));
    const first = await none.enqueue({ n: 1 });
    const outcome = await none.runOnce(async () => snooze(10));
    assert.ok(outcome?._tag === "failed" && outcome.taskId === first);
  });

  it("a cancel requested while the handler runs wins over its snooze: the task ends cancelled", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "snooze_cancel", input: N }));
    const id = await job.enqueue({ n: 1 });
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const worker = job.start(
      async (_input, { signal }) => {
        started();
        // Seen the cancel, and snoozes anyway: the cancel still wins.
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
        return snooze(10);
      },
      { pollIntervalMs: 50 },
    );
    try {
      await running;
      const outcome = job.outcome(id);
      assert.equal(await job.cancel(id), true);
      assert.equal((await outcome)._tag, "cancelled");
      const detail = await underway.ops.task(id);
      assert.equal(detail?.state, "cancelled");
      assert.ok(
        detail?.history.every((entry) => entry._tag === "attempt"),
        "no snooze recorded",
      );
    } finally {
      await worker.stop();
    }
    // The same in runOnce: a cancel requested before the snooze is written.
    const inline = await job.enqueue({ n: 2 });
    const outcome = await job.runOnce(async () => {
      await job.cancel(inline);
      return snooze(10);
    });
    assert.equal(outcome?._tag, "cancelled");
  });

  it("a multi-step job's step snoozes like a task: the step runs again, the job goes on", async () => {
    const underway = await connect();
    const def = defineStepJob({ queue: "snooze_steps", input: N, output: t.number, maxSnoozes: 5 });
    let snoozed = 0;
    const steps = Steps.of(def)
      .step(async ({ n }) => next({ m: n + 1 }))
      .step(async ({ m }, { attempt }) => {
        if (snoozed < 2) {
          snoozed += 1;
          return snooze(20);
        }
        return done(m * 10 + attempt);
      });
    const job = underway.job(def);
    const worker = job.start(steps, { pollIntervalMs: 50 });
    try {
      const jobId = await job.enqueue({ n: 1 });
      assert.equal(await job.result(jobId), 21);
      assert.equal(snoozed, 2);
    } finally {
      await worker.stop();
    }
  });

  it("a transactional handler that snoozes: its writes are rolled back, the task snoozes, no attempt spent", async () => {
    const underway = await connect();
    await db().pool.query("create table snooze_tx (n integer)");
    const job = underway.job(defineJob({ queue: "snooze_tx", input: N }));
    const id = await job.enqueue({ n: 1 });
    let runs = 0;
    const handler = transactional<{ n: number }, null>(async (_input, { tx }) => {
      runs += 1;
      await tx.query("insert into snooze_tx (n) values ($1)", [runs]);
      if (runs === 1) return snooze(0);
      return null;
    });
    assert.equal((await job.runOnce(handler))?._tag, "snoozed");
    const second = await job.runOnce(handler);
    assert.ok(second?._tag === "succeeded" && second.taskId === id && second.attempt === 1);
    const { rows } = await db().pool.query<{ n: number }>("select n from snooze_tx order by n");
    assert.deepEqual(
      rows.map((row) => row.n),
      [2],
      "the snoozed run's insert was rolled back",
    );
  });

  it("bad delays are the attempt's error; bad maxSnoozes is a ConfigError naming it", async () => {
    for (const bad of [-1, Number.NaN, Infinity, -Infinity, 2 ** 31, "10" as unknown as number]) {
      assert.throws(
        () => snooze(bad),
        (error: unknown) =>
          error instanceof RangeError &&
          !(error instanceof Snooze) &&
          /snooze\(ms\): ms must be a finite number/.test(error.message),
        String(bad),
      );
    }
    assert.throws(() => snooze(0), Snooze);
    assert.throws(() => snooze(2 ** 31 - 1), Snooze);
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "snooze_bad", input: N }));
    const id = await job.enqueue({ n: 1 });
    const outcome = await job.runOnce(async () => snooze(-5));
    assert.ok(outcome?._tag === "retrying" && outcome.taskId === id);
    assert.match(
      outcome.error,
      /snooze\(ms\): ms must be a finite number of milliseconds from 0 to 2147483647, got -5/,
    );
    assert.equal(outcome.attempt, 1, "an error, so the attempt is spent");

    for (const [maxSnoozes, pattern] of [
      [-1, /maxSnoozes/],
      [1.5, /maxSnoozes/],
      ["3", /maxSnoozes/],
      [2 ** 31, /maxSnoozes/],
    ] as const)
      assert.throws(
        () => defineJob({ queue: "snooze_opts", input: N, maxSnoozes: maxSnoozes as number }),
        (error: unknown) => error instanceof ConfigError && pattern.test(error.message),
        String(maxSnoozes),
      );
    assert.throws(
      () => defineJob({ queue: "snooze_opts", input: N, maxSnooze: 3 } as never),
      (error: unknown) => error instanceof ConfigError && /maxSnooze\b.*maxSnoozes/.test(error.message),
    );
  });
});
