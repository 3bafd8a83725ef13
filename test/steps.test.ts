import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob, defineStepJob, done, next, nextAfter, Steps, TaskFailedError } from "../src/index.ts";
import { cancelRunning, crashSteps } from "./fixtures/definitions.ts";
import { eventually, useDatabase } from "./support/harness.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const child = (url: string, mode: string): { process: ChildProcess; ready: Promise<void> } => {
  const proc = spawn(process.execPath, ["--import", "tsx", "test/fixtures/stepsWorker.ts", url, mode], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const ready = new Promise<void>((resolve, reject) => {
    proc.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolve();
    });
    proc.on("exit", (code) => reject(new Error(`child exited ${code} before ready`)));
  });
  return { process: proc, ready };
};

describe("multi-step jobs", () => {
  const { db, connect } = useDatabase("steps");

  it("checks step types at compile time", () => {
    // Type-level only (tsc runs over tests in CI): never executed.
    const typeCheck = () =>
      Steps.of(defineStepJob({ queue: "typed", input: t.type({ n: t.number }) }))
        .step(async () => next("a string"))
        // @ts-expect-error a step taking a number cannot follow one producing a string
        .step(async (n: number) => done(n + 1));
    assert.equal(typeof typeCheck, "function");
  });

  it("runs a 3-step job end to end, with a delay between steps, and resolves with the last output", async () => {
    const underway = await connect();
    const signup = defineStepJob({ queue: "signup", input: t.type({ userId: t.number }) });
    const ran: string[] = [];
    const times: number[] = [];
    const steps = Steps.of(signup, { state: { greeting: "hello" } })
      .step(async ({ userId }, { stepIndex, stepCount }) => {
        ran.push(`${stepIndex}/${stepCount}`);
        times.push(Date.now());
        return nextAfter({ userId, token: `t${userId}` }, 700);
      })
      .step(async ({ userId, token }, { stepIndex, state }) => {
        ran.push(`${stepIndex}:${token}:${state.greeting}`);
        times.push(Date.now());
        return next({ message: `${state.greeting} ${userId}` });
      })
      .step(
        async ({ message }, { jobId }) => {
          ran.push(`2:${message}`);
          return done({ message, jobId });
        },
        { retry: { maxAttempts: 1 } },
      );
    const job = underway.job(signup);
    const worker = job.start(steps, { pollIntervalMs: 100 });
    const jobId = await job.enqueue({ userId: 7 });
    const output = await job.result(jobId);
    await worker.stop();
    assert.deepEqual(output, { message: "hello 7", jobId });
    assert.deepEqual(ran, ["0/3", "1:t7:hello", "2:hello 7"]);
    assert.ok(times[1]! - times[0]! >= 650, `second step ran ${times[1]! - times[0]!} ms after the first`);
    const { rows } = await db().pool.query(
      "select step_index, state::text, max_attempts from underway.task_all where job_id = $1 order by step_index",
      [jobId],
    );
    assert.deepEqual(rows, [
      { step_index: 0, state: "succeeded", max_attempts: 5 },
      { step_index: 1, state: "succeeded", max_attempts: 5 },
      { step_index: 2, state: "succeeded", max_attempts: 1 },
    ]);
  });

  it("optionsFor applies to the first step's input only; a later step computes its options from its own input", async () => {
    const underway = await connect();
    const onboarding = defineStepJob({
      queue: "per_user_steps",
      input: t.type({ user: t.type({ id: t.number }) }),
      // Reads a field only the first step's input has.
      optionsFor: ({ user }) => ({ concurrencyKey: `user:${user.id}`, priority: 3 }),
    });
    const steps = Steps.of(onboarding)
      .step(async ({ user }) => next({ userId: user.id }))
      .step(
        async ({ userId }) => next({ userId }),
        ({ userId }) => ({ concurrencyKey: `mail:${userId}` }),
      )
      .step(async ({ userId }) => done(userId));
    const job = underway.job(onboarding);
    const worker = job.start(steps, { pollIntervalMs: 100 });
    try {
      const [first, second] = await job.enqueueMany([{ user: { id: 1 } }, { user: { id: 2 } }]);
      assert.equal(await job.result(first!), 1);
      assert.equal(await job.result(second!), 2);
      const { rows } = await db().pool.query(
        "select step_index, concurrency_key, priority from underway.task_all where job_id = $1 order by step_index",
        [second],
      );
      assert.deepEqual(rows, [
        { step_index: 0, concurrency_key: "user:2", priority: 3 },
        { step_index: 1, concurrency_key: "mail:2", priority: 0 },
        { step_index: 2, concurrency_key: null, priority: 0 },
      ]);
    } finally {
      await worker.stop();
    }
  });

  it("a step job's handle has attempts() and enqueueAfter(), and a failed run names its dead-letter queue", async () => {
    const underway = await connect();
    const billing = defineStepJob({
      queue: "steps_handle",
      dlq: "steps_handle_dlq",
      input: t.type({ n: t.number }),
      options: { retry: { maxAttempts: 2, initialIntervalMs: 10, jitter: 0 } },
    });
    const steps = Steps.of(billing)
      .step(async ({ n }) => next({ n }))
      .step(async ({ n }): Promise<ReturnType<typeof done<number>>> => {
        throw new Error(`card ${n} declined`);
      });
    const job = underway.job(billing);
    const worker = job.start(steps, { pollIntervalMs: 50 });
    try {
      const started = Date.now();
      const jobId = await job.enqueueAfter({ n: 4 }, 300);
      const outcome = await job.outcome(jobId);
      assert.ok(Date.now() - started >= 280, "the run waited for its delay");
      assert.equal(outcome._tag, "failed");
      assert.ok(outcome._tag === "failed");
      assert.equal(outcome.deadLetterQueue, "steps_handle_dlq");
      assert.equal(outcome.stepIndex, 1);
      const attempts = await job.attempts(jobId);
      assert.deepEqual(
        attempts.map(({ stepIndex, attempt, state, error }) => ({ stepIndex, attempt, state, error })),
        [
          { stepIndex: 0, attempt: 1, state: "succeeded", error: null },
          { stepIndex: 1, attempt: 1, state: "failed", error: "card 4 declined" },
          { stepIndex: 1, attempt: 2, state: "failed", error: "card 4 declined" },
        ],
      );
      await assert.rejects(job.attempts("00000000-0000-4000-8000-000000000000"), /no job with id/);
    } finally {
      await worker.stop();
    }
  });

  it("a step worker's outcomes$ emits run outcomes, the handle's type, and completes when the client closes", async () => {
    const underway = await connect();
    const chain = defineStepJob({
      queue: "same_outcomes",
      input: t.type({ n: t.number }),
      output: t.type({ total: t.number }),
    });
    const steps = Steps.of(chain)
      .step(async ({ n }) => next({ n: n + 1 }))
      .step(async ({ n }) => done({ total: n * 10 }));
    const job = underway.job(chain);
    const fromHandle: unknown[] = [];
    const handleSub = job.outcomes$.subscribe((outcome) => fromHandle.push(outcome));
    await underway.listening();
    const worker = job.start(steps, { pollIntervalMs: 100 });
    const fromWorker: unknown[] = [];
    let completed = false;
    worker.outcomes$.subscribe({
      next: (outcome) => fromWorker.push(outcome),
      complete: () => (completed = true),
    });
    const jobId = await job.enqueue({ n: 1 });
    assert.deepEqual(await job.result(jobId), { total: 20 });
    await eventually(() => fromHandle.length === 2 && fromWorker.length === 2);
    const shape = (outcome: unknown) => {
      const { _tag, jobId: id, stepIndex, output } = outcome as Record<string, unknown>;
      return { _tag, jobId: id, stepIndex, output };
    };
    assert.deepEqual(fromWorker.map(shape), [
      { _tag: "stepSucceeded", jobId, stepIndex: 0, output: undefined },
      { _tag: "succeeded", jobId, stepIndex: 1, output: { total: 20 } },
    ]);
    assert.deepEqual(fromWorker.map(shape), fromHandle.map(shape));
    handleSub.unsubscribe();
    await underway.close();
    assert.ok(completed, "close() completed the worker's outcomes$");
  });

  it("ends early on done, and reports a failed step as the job's failure", async () => {
    const underway = await connect();
    const early = defineStepJob({ queue: "early", input: t.type({ n: t.number }) });
    const steps = Steps.of(early)
      .step(async ({ n }) => (n > 0 ? done(`positive ${n}`) : next({ n })))
      .step(
        async (): Promise<ReturnType<typeof done<string>>> => {
          throw new Error("second step broke");
        },
        { retry: { maxAttempts: 1 } },
      );
    const job = underway.job(early);
    const worker = job.start(steps, { pollIntervalMs: 100 });
    const [positive, zero] = await job.enqueueMany([{ n: 3 }, { n: 0 }]);
    assert.equal(await job.result(positive!), "positive 3");
    await assert.rejects(
      job.result(zero!),
      (error: unknown) => error instanceof TaskFailedError && /second step broke/.test(error.message),
    );
    await worker.stop();
  });

  it("a crash inside a step neither reruns the finished step nor skips one", async () => {
    const underway = await connect();
    await db().pool.query("create table step_runs (id serial primary key, what text not null)");
    const crashed = child(db().url, "crash");
    await crashed.ready;
    const exited = new Promise((resolve) => crashed.process.on("exit", resolve));
    // This process only enqueues (no steps attached here); the child runs the job.
    const jobId = await underway.job(crashSteps).enqueue({ n: 1 });
    await exited; // the child killed itself inside step 1
    const survivor = child(db().url, "crash");
    await survivor.ready;
    await eventually(
      async () => {
        // The last step's task committed, not merely started.
        const { rows } = await db().pool.query(
          "select 1 from underway.task_all where job_id = $1 and step_index = 2 and state = 'succeeded'",
          [jobId],
        );
        return rows.length > 0;
      },
      20_000,
      "step 2 to finish",
    );
    survivor.process.kill("SIGKILL");
    const { rows } = await db().pool.query<{ what: string }>("select what from step_runs order by id");
    assert.deepEqual(
      rows.map((row) => row.what),
      ["step0", "step1.attempt1", "step1.attempt2", "step2"],
    );
    const { rows: tasks } = await db().pool.query(
      "select step_index, state::text, attempt from underway.task_all where job_id = $1 order by step_index",
      [jobId],
    );
    assert.deepEqual(tasks, [
      { step_index: 0, state: "succeeded", attempt: 1 },
      { step_index: 1, state: "succeeded", attempt: 2 },
      { step_index: 2, state: "succeeded", attempt: 1 },
    ]);
    const { rows: lost } = await db().pool.query(
      "select a.state from underway.task_attempt a join underway.task_all t on t.id = a.task_id where t.job_id = $1",
      [jobId],
    );
    assert.deepEqual(lost, [{ state: "lost" }]);
  });

  it("cancels a job between steps", async () => {
    const underway = await connect();
    const cancelJob = defineStepJob({ queue: "cancel_job", input: t.type({ n: t.number }) });
    let lastStepRan = false;
    const steps = Steps.of(cancelJob)
      .step(async ({ n }) => nextAfter({ n }, 60_000))
      .step(async () => {
        lastStepRan = true;
        return done(null);
      });
    const job = underway.job(cancelJob);
    const worker = job.start(steps, { pollIntervalMs: 100 });
    const jobId = await job.enqueue({ n: 1 });
    await eventually(async () => {
      const { rows } = await db().pool.query(
        "select 1 from underway.task_all where job_id = $1 and step_index = 1",
        [jobId],
      );
      return rows.length === 1;
    });
    assert.equal(await job.cancel(jobId), true);
    const outcome = await job.outcome(jobId);
    assert.equal(outcome._tag, "cancelled");
    assert.equal(outcome.stepIndex, 1);
    await worker.stop();
    assert.equal(lastStepRan, false);
  });
});

describe("cancellation", () => {
  const { db, connect } = useDatabase("cancel");

  it("cancels a pending task at once", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "cancel_pending", input: t.type({ n: t.number }) }));
    let ran = false;
    const id = await job.enqueueAfter({ n: 1 }, 500);
    const outcomes: string[] = [];
    const sub = job.outcomes$.subscribe((outcome) => outcomes.push(outcome._tag));
    await underway.listening();
    assert.equal(await job.cancel(id), true);
    assert.equal(await job.cancel(id), false, "a finished task cannot be cancelled again");
    const worker = job.start(
      async () => {
        ran = true;
        return null;
      },
      { pollIntervalMs: 100 },
    );
    await sleep(900);
    await worker.stop();
    sub.unsubscribe();
    assert.equal(ran, false);
    assert.deepEqual(outcomes, ["cancelled"]);
    await assert.rejects(
      job.result(id),
      (error: unknown) => error instanceof TaskFailedError && error.state === "cancelled",
    );
  });

  it("fires the AbortSignal of a task running in another process", async () => {
    const underway = await connect();
    await db().pool.query("create table step_runs (id serial primary key, what text not null)");
    // This process only enqueues and cancels; the child runs the handler.
    const job = underway.job(cancelRunning);
    const worker = child(db().url, "cancel");
    await worker.ready;
    const id = await job.enqueue({ n: 1 });
    await eventually(async () => {
      const { rows } = await db().pool.query("select 1 from step_runs where what = 'started'");
      return rows.length === 1;
    });
    assert.equal(await job.cancel(id), true);
    const outcome = await job.outcome(id);
    assert.equal(outcome._tag, "cancelled");
    await eventually(
      async () => {
        const { rows } = await db().pool.query("select what from step_runs where what like 'aborted%'");
        return rows.length === 1 && rows[0].what === "aborted:cancelled";
      },
      10_000,
      "the handler's signal to fire",
    );
    const { rows } = await db().pool.query("select state::text, error from underway.task_all where id = $1", [
      id,
    ]);
    assert.deepEqual(
      rows,
      [{ state: "cancelled", error: "cancelled" }],
      "the worker's late write was fenced off",
    );
    const exited = new Promise((resolve) => worker.process.on("exit", resolve));
    worker.process.kill("SIGTERM");
    await exited;
  });
});
