// Batch handlers (issue 22, part 5): job.startBatch hands a handler up to
// batchSize tasks at once, gathered for at most batchWaitMs after the
// first, with a result per task, so one bad task fails alone; every task
// still goes through the one attempt pipeline (retries, DLQ, leases,
// cancels, shutdown, outcomes).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import {
  BatchResult,
  ConfigError,
  FatalError,
  defineJob,
  transactional,
  type BatchTask,
  type Outcome,
} from "../src/index.ts";
import { eventually, gate, recordingLogger, useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });
const double = (tasks: ReadonlyArray<BatchTask<{ n: number }>>) =>
  Promise.resolve(tasks.map(({ input }) => BatchResult.ok(input.n * 2)));
const fast = { pollIntervalMs: 50 } as const;

describe("batch handlers", () => {
  const { db, connect } = useDatabase("batch_handlers");

  it("a backlog of 250 goes in calls of at most batchSize, each task's output its own", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "batch_backlog", input: N, output: t.number }));
    const ids = await job.enqueueMany(Array.from({ length: 250 }, (_, n) => ({ n })));
    const sizes: number[] = [];
    const worker = job.startBatch(
      async (tasks) => {
        sizes.push(tasks.length);
        return double(tasks);
      },
      { ...fast, batchSize: 100, batchWaitMs: 20 },
    );
    try {
      const outputs = await Promise.all(ids.map((id) => job.result(id)));
      assert.deepEqual(
        outputs,
        Array.from({ length: 250 }, (_, n) => n * 2),
      );
      assert.equal(
        sizes.reduce((a, b) => a + b, 0),
        250,
      );
      assert.ok(
        sizes.every((size) => size >= 1 && size <= 100),
        `sizes ${sizes.join(",")}`,
      );
      // A backlog fills its batches: at most one partial call per claim round.
      assert.ok(sizes.length <= 4, `calls ${sizes.join(",")}`);
    } finally {
      await worker.stop();
    }
  });

  it("a batch short of batchSize waits batchWaitMs for more; a full one goes at once", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "batch_wait", input: N, output: t.number }));
    const calls: Array<{ size: number; at: number }> = [];
    const worker = job.startBatch(
      async (tasks) => {
        calls.push({ size: tasks.length, at: Date.now() });
        return double(tasks);
      },
      { ...fast, batchSize: 5, batchWaitMs: 600 },
    );
    try {
      // Let the worker go idle (registered for NOTIFY) first.
      await new Promise((done) => setTimeout(done, 200));
      let sent = Date.now();
      const short = await job.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
      await Promise.all(short.map((id) => job.result(id)));
      const waited = (calls[0]?.at ?? 0) - sent;
      assert.deepEqual(
        calls.map((call) => call.size),
        [3],
      );
      assert.ok(waited >= 550 && waited < 3_000, `a batch of 3 of 5 left after ${waited} ms, not ~600`);
      sent = Date.now();
      const full = await job.enqueueMany([1, 2, 3, 4, 5].map((n) => ({ n })));
      await Promise.all(full.map((id) => job.result(id)));
      const quick = (calls[1]?.at ?? 0) - sent;
      assert.equal(calls[1]?.size, 5);
      assert.ok(quick < 500, `a full batch waited ${quick} ms`);
    } finally {
      await worker.stop();
    }
  });

  it("one bad result fails its task alone: retried by its policy, then dead-lettered; a FatalError skips retries", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "batch_bad",
        dlq: "batch_bad_dlq",
        input: N,
        output: t.number,
        options: { retry: { maxAttempts: 2, initialIntervalMs: 10, maxIntervalMs: 10 } },
      }),
    );
    const ids = await job.enqueueMany(Array.from({ length: 8 }, (_, n) => ({ n })));
    const worker = job.startBatch(
      async (tasks) =>
        tasks.map(({ input }) =>
          input.n === 3
            ? BatchResult.fail(new Error("bad three"))
            : input.n === 5
              ? BatchResult.fail(new FatalError("fatal five"))
              : BatchResult.ok(input.n * 2),
        ),
      { ...fast, batchSize: 8, batchWaitMs: 50 },
    );
    try {
      const outcomes = await Promise.all(ids.map((id) => job.outcome(id)));
      for (const [n, outcome] of outcomes.entries()) {
        if (n === 3) {
          assert.equal(outcome._tag, "failed");
          assert.equal(outcome.attempt, 2);
          assert.ok(outcome._tag === "failed" && outcome.error.includes("bad three"));
        } else if (n === 5) {
          assert.equal(outcome._tag, "failed");
          assert.equal(outcome.attempt, 1, "a FatalError is not retried");
        } else {
          assert.deepEqual([outcome._tag, outcome.attempt], ["succeeded", 1], `task ${n}`);
        }
      }
      const { rows } = await db().pool.query<{ n: number }>(
        "select (input->>'n')::int as n from underway.task_all where queue_name = 'batch_bad_dlq' order by 1",
      );
      assert.deepEqual(
        rows.map((row) => row.n),
        [3, 5],
      );
    } finally {
      await worker.stop();
    }
  });

  it("a handler that throws fails every task of its batch, each retried by its own policy", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "batch_throw",
        input: N,
        output: t.number,
        options: { retry: { maxAttempts: 3, initialIntervalMs: 10, maxIntervalMs: 10 } },
      }),
    );
    const ids = await job.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    let calls = 0;
    const worker = job.startBatch(
      async (tasks) => {
        calls += 1;
        if (calls === 1) throw new Error("bulk API down");
        return double(tasks);
      },
      { ...fast, batchSize: 10, batchWaitMs: 100 },
    );
    try {
      const outcomes = await Promise.all(ids.map((id) => job.outcome(id)));
      assert.deepEqual(
        outcomes.map((outcome) => [outcome._tag, outcome.attempt]),
        [
          ["succeeded", 2],
          ["succeeded", 2],
          ["succeeded", 2],
        ],
      );
      for (const id of ids) {
        const attempts = await job.attempts(id);
        assert.equal(attempts[0]?.state, "failed");
        assert.equal(attempts[0]?.error, "bulk API down");
      }
    } finally {
      await worker.stop();
    }
  });

  it("results of the wrong length fail the whole batch; a Map missing a task or a malformed result fails that task; never a silent success", async () => {
    const logger = recordingLogger();
    const underway = await connect({ logger });
    const job = underway.job(
      defineJob({
        queue: "batch_shape",
        input: N,
        output: t.number,
        options: { retry: { maxAttempts: 2, initialIntervalMs: 10, maxIntervalMs: 10 } },
      }),
    );
    const ids = await job.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    let calls = 0;
    const worker = job.startBatch(
      async (tasks) => {
        calls += 1;
        // First call: one result short (positions cannot be trusted).
        if (calls === 1) return (await double(tasks)).slice(1);
        // Then: a Map without n = 2 and a raw value for n = 3.
        const byId = new Map<string, BatchResult<number>>();
        for (const { input, context } of tasks)
          if (input.n === 1) byId.set(context.taskId, BatchResult.ok(10));
          else if (input.n === 3) byId.set(context.taskId, 30 as unknown as BatchResult<number>);
        return byId;
      },
      { ...fast, batchSize: 10, batchWaitMs: 100 },
    );
    try {
      const [one, two, three] = await Promise.all(ids.map((id) => job.outcome(id)));
      assert.deepEqual([one?._tag, one?.attempt], ["succeeded", 2]);
      assert.ok(one?._tag === "succeeded" && one.output === 10);
      for (const outcome of [two, three]) {
        assert.equal(outcome?._tag, "failed");
        assert.equal(outcome?.attempt, 2);
      }
      assert.ok(two?._tag === "failed" && two.error.includes("has no result for task"), two?._tag);
      assert.ok(three?._tag === "failed" && three.error.includes("not a BatchResult"));
      const first = await job.attempts(ids[0] ?? "");
      assert.equal(first[0]?.errorName, "BatchResultError");
      assert.match(first[0]?.error ?? "", /returned 2 results for 3 tasks/);
      assert.ok(
        logger.lines.some((line) => line.level === "error" && line.message.includes("unusable results")),
      );
    } finally {
      await worker.stop();
    }
  });

  it("a handler that writes over a context's taskId cannot hand a task another's result", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "batch_mutated",
        input: N,
        output: t.number,
        options: { retry: { maxAttempts: 1 } },
      }),
    );
    const [first, second] = await job.enqueueMany([{ n: 1 }, { n: 2 }]);
    const worker = job.startBatch(
      async (tasks) => {
        const [a, b] = tasks;
        if (a === undefined || b === undefined) return [];
        const results = new Map([[b.context.taskId, BatchResult.ok(42)]]);
        // Readonly in its type, not in JavaScript: the first task now claims the second's id.
        (a.context as { taskId: string }).taskId = b.context.taskId;
        return results;
      },
      { ...fast, batchSize: 2, batchWaitMs: 200 },
    );
    try {
      assert.equal((await job.outcome(second ?? ""))._tag, "succeeded");
      const outcome = await job.outcome(first ?? "");
      assert.equal(outcome._tag, "failed", "the first task had no result of its own");
    } finally {
      await worker.stop();
    }
  });

  it("a cancel reaches its own task's signal in a running batch; the others succeed", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "batch_cancel", input: N, output: t.number }));
    const ids = await job.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const running = gate();
    const aborted: string[] = [];
    const worker = job.startBatch(
      async (tasks) => {
        running.open();
        // Each task waits for its own signal, or half a second.
        await Promise.all(
          tasks.map(
            ({ context }) =>
              new Promise<void>((done) => {
                const timer = setTimeout(done, 1_500);
                context.signal.addEventListener("abort", () => {
                  aborted.push(`${context.taskId}:${(context.signal.reason as { kind?: string }).kind}`);
                  clearTimeout(timer);
                  done();
                });
              }),
          ),
        );
        return double(tasks);
      },
      { ...fast, batchSize: 3, batchWaitMs: 100 },
    );
    try {
      await running.opened;
      assert.equal(await job.cancel(ids[1] ?? ""), true);
      const outcomes = await Promise.all(ids.map((id) => job.outcome(id)));
      assert.deepEqual(
        outcomes.map((outcome) => outcome._tag),
        ["succeeded", "cancelled", "succeeded"],
      );
      assert.deepEqual(aborted, [`${ids[1]}:cancelled`]);
    } finally {
      await worker.stop();
    }
  });

  it("a batch longer than its tasks' lease keeps every lease: no task is reaped or run twice", async () => {
    const underway = await connect();
    const definition = defineJob({
      queue: "batch_lease",
      input: N,
      output: t.number,
      options: { heartbeatMs: 1_000 },
    });
    const job = underway.job(definition);
    const runs = new Map<string, number>();
    const worker = job.startBatch(
      async (tasks) => {
        for (const { context } of tasks) runs.set(context.taskId, (runs.get(context.taskId) ?? 0) + 1);
        // Three leases long.
        await new Promise((done) => setTimeout(done, 3_000));
        return double(tasks);
      },
      { ...fast, batchSize: 20, batchWaitMs: 50, heartbeatTickMs: 100, reapIntervalMs: 100 },
    );
    // A second client's reaper sweeps too, as another process would (the
    // reap statement covers every queue; its worker's queue has no tasks).
    const other = await connect();
    const sweeper = other
      .job(defineJob({ queue: "batch_lease_elsewhere", input: N, output: t.number }))
      .start(async ({ n }) => n, { reapIntervalMs: 100, pollIntervalMs: 60_000 });
    try {
      const ids = await job.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ n })));
      const outcomes = await Promise.all(ids.map((id) => job.outcome(id)));
      assert.deepEqual(
        outcomes.map((outcome) => [outcome._tag, outcome.attempt]),
        ids.map(() => ["succeeded", 1]),
      );
      assert.deepEqual(
        [...runs.values()],
        ids.map(() => 1),
      );
    } finally {
      await sweeper.stop();
      await worker.stop();
    }
  });

  it("stop waits for the running batch and its writes; past the grace period the signals fire", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "batch_stop", input: N, output: t.number }));
    const ids = await job.enqueueMany([{ n: 1 }, { n: 2 }]);
    const running = gate();
    const release = gate();
    const outcomes: Array<Outcome<number>> = [];
    const worker = job.startBatch(
      async (tasks) => {
        running.open();
        await release.opened;
        return double(tasks);
      },
      { ...fast, batchSize: 2, batchWaitMs: 50 },
    );
    worker.outcomes$.subscribe((outcome) => outcomes.push(outcome));
    await running.opened;
    let stopped = false;
    const stopping = worker.stop().then(() => (stopped = true));
    await new Promise((done) => setTimeout(done, 300));
    assert.equal(stopped, false, "stop waits for the batch");
    release.open();
    await stopping;
    assert.deepEqual(outcomes.map((outcome) => outcome._tag).sort(), ["succeeded", "succeeded"]);
    const { rows } = await db().pool.query<{ state: string }>(
      "select state from underway.task_all where id = any($1::bigint[])",
      [ids],
    );
    assert.deepEqual(
      rows.map((row) => row.state),
      ["succeeded", "succeeded"],
    );

    // Past the grace period: each task's signal fires and it goes back to pending.
    const late = await job.enqueueMany([{ n: 3 }]);
    const stuck = gate();
    const signals: string[] = [];
    const second = job.startBatch(
      async (tasks) => {
        for (const { context } of tasks)
          context.signal.addEventListener("abort", () =>
            signals.push((context.signal.reason as { kind: string }).kind),
          );
        stuck.open();
        await new Promise(() => undefined);
        return [];
      },
      { ...fast, batchSize: 2, batchWaitMs: 50, shutdownGraceMs: 100 },
    );
    await stuck.opened;
    await second.stop();
    assert.deepEqual(signals, ["shutdown"]);
    const after = await db().pool.query<{ state: string }>("select state from underway.task where id = $1", [
      late[0],
    ]);
    assert.equal(after.rows[0]?.state, "pending");
  });

  it("a call that never settles frees its slot once its tasks timed out: the next batch still runs", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "batch_hung",
        input: N,
        output: t.number,
        options: { timeoutMs: 300, retry: { maxAttempts: 1 } },
      }),
    );
    let calls = 0;
    const worker = job.startBatch(
      async (tasks) => {
        calls += 1;
        // The first call hangs for good, ignoring its signals (a bulk API without a timeout).
        if (calls === 1) await new Promise(() => undefined);
        return double(tasks);
      },
      { ...fast, batchSize: 10, batchWaitMs: 10, concurrency: 1 },
    );
    try {
      const [hung] = await job.enqueueMany([{ n: 1 }]);
      assert.equal((await job.outcome(hung ?? ""))._tag, "failed", "the hung call's task timed out");
      const [next] = await job.enqueueMany([{ n: 2 }]);
      assert.equal(await job.result(next ?? ""), 4, "a later task runs in a call of its own");
      assert.equal(calls, 2);
    } finally {
      await worker.stop();
    }
  });

  it("refuses bad batch options, typos and a transactional handler, naming what was wrong", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "batch_options", input: N, output: t.number }));
    const refused = (run: () => unknown, pattern: RegExp) =>
      assert.throws(run, (error: unknown) => error instanceof ConfigError && pattern.test(error.message));
    refused(
      () => job.startBatch(double, { batchsize: 10 } as never),
      /unknown option "batchsize" \(did you mean "batchSize"\?\)/,
    );
    refused(() => job.startBatch(double, { batchWait: 10 } as never), /did you mean "batchWaitMs"/);
    refused(
      () => job.startBatch(double, { batchSize: 0 }),
      /batchSize must be an integer from 1 to 1000, got number 0/,
    );
    refused(
      () => job.startBatch(double, { batchSize: 1_001 }),
      /batchSize must be an integer from 1 to 1000/,
    );
    refused(() => job.startBatch(double, { batchSize: 2.5 }), /batchSize must be an integer/);
    refused(
      () => job.startBatch(double, { batchWaitMs: -1 }),
      /batchWaitMs must be a number >= 0|batchWaitMs must be a number from 0/,
    );
    refused(() => job.startBatch(double, { batchWaitMs: Number.NaN }), /batchWaitMs must be/);
    refused(
      () => job.startBatch(double, { concurrency: 200, batchSize: 1_000 }),
      /concurrency × batchSize .* at most 100000, got 200 × 1000/,
    );
    refused(
      () => job.start(async ({ n }) => n, { batchSize: 10 } as never),
      /batchSize is an option of a batch handler's worker \(job\.startBatch/,
    );
    refused(
      () => job.work(async ({ n }) => n, { batchWaitMs: 10 } as never),
      /batchWaitMs is an option of a batch handler's worker/,
    );
    refused(() => job.workBatch(double, { batchSize: -1 }), /batchSize must be/);
    refused(() => job.startBatch("nope" as never), /batch handler must be a function/);
    refused(
      () => job.startBatch(transactional(double) as never),
      /a transactional handler cannot run in batches/,
    );
    // Nothing was started by the refused calls: no task is claimed.
    const id = await job.enqueue({ n: 1 });
    await new Promise((done) => setTimeout(done, 200));
    const { rows } = await db().pool.query<{ state: string }>(
      "select state from underway.task where id = $1",
      [id],
    );
    assert.equal(rows[0]?.state, "pending");
  });

  it("workBatch runs while subscribed, with concurrency counting batch calls", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "batch_work", input: N, output: t.number }));
    let inFlight = 0;
    let most = 0;
    let biggest = 0;
    const outcomes: Array<Outcome<number>> = [];
    const ids = await job.enqueueMany(Array.from({ length: 40 }, (_, n) => ({ n })));
    const subscription = job
      .workBatch(
        async (tasks) => {
          inFlight += 1;
          most = Math.max(most, inFlight);
          biggest = Math.max(biggest, tasks.length);
          await new Promise((done) => setTimeout(done, 50));
          inFlight -= 1;
          return double(tasks);
        },
        { ...fast, concurrency: 2, batchSize: 5, batchWaitMs: 10 },
      )
      .subscribe((outcome) => outcomes.push(outcome));
    try {
      await eventually(() => outcomes.length === 40, 15_000, "40 outcomes");
      assert.equal(most, 2, "two batch calls at once, not more");
      assert.equal(biggest, 5, "concurrency counts calls, not tasks: a call takes batchSize tasks");
      assert.deepEqual(new Set(outcomes.map((outcome) => outcome.taskId)), new Set(ids));
    } finally {
      subscription.unsubscribe();
    }
  });
});
