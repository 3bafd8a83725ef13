// underway/testing's perform: a handler or a job's steps run in this
// process without a database, as a worker runs them. The unit lane runs
// these with no DATABASE_URL, so anything that reached for a database
// would fail here.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { z } from "zod";
import {
  AbortError,
  ConfigError,
  FatalError,
  Steps,
  ValidationError,
  defineJob,
  defineStepJob,
  done,
  next,
  nextAfter,
  snooze,
  transactional,
  type TaskContext,
} from "../src/index.ts";
import { NoDatabaseError, matchesInput, perform } from "../src/testing/index.ts";
import { DateFromISOString } from "../examples/tasks/welcomeEmail.ts";

// What a handler that calls neither ctx.progress nor ctx.log reports.
const nothingReported = { progress: [], logs: [], logsCut: 0 };

const email = defineJob({
  queue: "email",
  input: t.type({ userId: t.number, email: t.string, at: DateFromISOString }),
  output: t.type({ sentAt: DateFromISOString }),
  options: { retry: { maxAttempts: 3 } },
});
const input = { userId: 42, email: "ferris@example.com", at: new Date("2026-01-02T03:04:05.000Z") };

/** Timers and other handles that keep the process alive, by kind. */
const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;

describe("perform: a handler run without a database", () => {
  it("runs the handler on the decoded input and gives the output as result() would (a Date through its codec)", async () => {
    const seen: unknown[] = [];
    const result = await perform(
      email,
      async (value) => {
        seen.push(value);
        return { sentAt: new Date("2026-01-02T03:04:06.000Z") };
      },
      input,
    );
    assert.deepEqual(result, {
      ...nothingReported,
      _tag: "succeeded",
      output: { sentAt: new Date("2026-01-02T03:04:06.000Z") },
    });
    // What the handler gets went through JSON and the codec, as from a task row.
    assert.ok(seen[0] !== input);
    assert.deepEqual(seen, [input]);
    assert.ok((seen[0] as typeof input).at instanceof Date);
  });

  it("gives the handler a context with a worker's fields", async () => {
    let context: TaskContext | undefined;
    const result = await perform(
      email,
      async (_value, ctx) => {
        context = ctx;
        return { sentAt: new Date() };
      },
      input,
      { taskId: "77", attempt: 2 },
    );
    assert.equal(result._tag, "succeeded");
    assert.ok(context !== undefined);
    assert.equal(context.taskId, "77");
    assert.equal(context.queue, "email");
    assert.equal(context.attempt, 2);
    assert.equal(context.maxAttempts, 3);
    assert.equal(context.jobId, null);
    assert.equal(context.stepIndex, null);
    assert.ok(context.signal instanceof AbortSignal);
    assert.equal(context.signal.aborted, false);
  });

  it("classifies a FatalError as the worker does: failed, not retryable, the error as thrown", async () => {
    const thrown = new FatalError("user 42 does not exist");
    const result = await perform(
      email,
      async () => {
        throw thrown;
      },
      input,
    );
    assert.equal(result._tag, "failed");
    assert.ok(result._tag === "failed");
    assert.equal(result.kind, "Fatal");
    assert.equal(result.error, thrown);
    assert.equal(result.name, "FatalError");
    assert.equal(result.message, "user 42 does not exist");
    assert.equal(result.retryable, false);
    assert.equal(result.willRetry, false);
  });

  it("classifies any other throw as retryable, retried while attempts are left", async () => {
    const fail = async (): Promise<{ sentAt: Date }> => {
      throw new TypeError("smtp down");
    };
    const first = await perform(email, fail, input);
    assert.ok(first._tag === "failed");
    assert.equal(first.kind, "Retryable");
    assert.ok(first.error instanceof TypeError);
    assert.equal(first.retryable, true);
    assert.equal(first.willRetry, true);
    // The policy allows 3: the third attempt's failure is final.
    const last = await perform(email, fail, input, { attempt: 3 });
    assert.ok(last._tag === "failed");
    assert.equal(last.retryable, true);
    assert.equal(last.willRetry, false);
    // Something other than an Error thrown: still a failure, named so.
    const odd = await perform(email, () => Promise.reject("a string"), input);
    assert.ok(odd._tag === "failed");
    assert.equal(odd.error, "a string");
    assert.equal(odd.name, "NonError");
  });

  it("reports an input the schema refuses as a decode failure, fatal, without running the handler", async () => {
    let ran = false;
    const handler = async () => {
      ran = true;
      return { sentAt: new Date() };
    };
    const result = await perform(email, handler, { userId: "42", email: "x", at: new Date() } as never);
    assert.ok(result._tag === "failed");
    assert.equal(ran, false);
    assert.equal(result.kind, "Fatal");
    assert.equal(result.name, "ValidationError");
    assert.match(result.message, /^input failed its codec: userId: expected number, got "42"/);
    assert.ok(result.error instanceof ValidationError);
    assert.ok(result.error.decodeError.paths.includes("userId"));
    assert.equal(result.retryable, false);
    // A Standard Schema the same way; and a value JSON cannot hold.
    const zodJob = defineJob({ queue: "zod", input: z.object({ n: z.number().int() }) });
    const zodResult = await perform(zodJob, async () => null, { n: 1.5 });
    assert.ok(zodResult._tag === "failed" && zodResult.name === "ValidationError");
    const nan = await perform(zodJob, async () => null, { n: Number.NaN });
    assert.ok(nan._tag === "failed" && nan.kind === "Fatal");
  });

  it("fails an output the output schema refuses, fatally, as the worker does", async () => {
    const result = await perform(email, async () => ({ sentAt: "yesterday" }) as never, input);
    assert.ok(result._tag === "failed");
    assert.equal(result.kind, "Fatal");
    assert.match(result.message, /output could not be serialised/);
    assert.ok(result.error instanceof Error);
  });

  it("times a handler out at its timeout: its signal fires, and a handler ignoring it is not waited for", async () => {
    const quick = defineJob({ queue: "quick", input: t.type({}), options: { timeoutMs: 40 } });
    let reason: unknown;
    const obeying = await perform(
      quick,
      (_value, { signal }) => {
        return new Promise((_resolve, reject) =>
          signal.addEventListener("abort", () => {
            reason = signal.reason;
            reject(signal.reason);
          }),
        );
      },
      {},
    );
    assert.ok(obeying._tag === "failed");
    assert.equal(obeying.kind, "TimedOut");
    assert.equal(obeying.retryable, true);
    assert.ok(obeying.error instanceof AbortError);
    assert.equal(obeying.error.kind, "timeout");
    assert.equal(reason, obeying.error);
    // The timeout of the definition, or the one given: a handler that never settles.
    const started = performance.now();
    const ignoring = await perform(
      quick,
      () => new Promise(() => undefined),
      {},
      { taskOptions: { timeoutMs: 60 } },
    );
    assert.ok(ignoring._tag === "failed" && ignoring.kind === "TimedOut");
    assert.ok(performance.now() - started < 2_000);
  });

  it("leaves no timer behind: after a success, a failure and a timeout, the process has the timers it had", async () => {
    const before = timers();
    // The default timeout is 15 minutes: a timer left armed would keep the process alive that long.
    await perform(email, async () => ({ sentAt: new Date() }), input);
    await perform(
      email,
      async () => {
        throw new Error("no");
      },
      input,
    );
    const quick = defineJob({ queue: "quick", input: t.type({}), options: { timeoutMs: 20 } });
    await perform(
      quick,
      (_value, { signal }) => new Promise((_r, reject) => signal.addEventListener("abort", reject)),
      {},
    );
    assert.equal(timers(), before);
  });

  it("reports a snooze with its delay, and past the definition's maxSnoozes the failure a worker records", async () => {
    const capped = defineJob({ queue: "capped", input: t.type({ n: t.number }), maxSnoozes: 2 });
    const sleepy = async () => snooze(5_000);
    assert.deepEqual(await perform(capped, sleepy, { n: 1 }), {
      ...nothingReported,
      _tag: "snoozed",
      delayMs: 5_000,
    });
    assert.deepEqual(await perform(capped, sleepy, { n: 1 }, { snoozes: 1 }), {
      ...nothingReported,
      _tag: "snoozed",
      delayMs: 5_000,
    });
    const over = await perform(capped, sleepy, { n: 1 }, { snoozes: 2 });
    assert.ok(over._tag === "failed", JSON.stringify(over));
    assert.equal(over.kind, "Fatal");
    assert.equal(over.name, "SnoozeLimitError");
    assert.equal(over.retryable, false);
    await assert.rejects(perform(capped, sleepy, { n: 1 }, { snoozes: -1 }), /snoozes/);
  });

  it("cancels a running handler when its signal option fires: cancelled, whatever the handler returns", async () => {
    const controller = new AbortController();
    const result = await perform(
      email,
      async (_value, { signal }) => {
        controller.abort();
        assert.equal(signal.aborted, true);
        assert.ok(signal.reason instanceof AbortError && signal.reason.kind === "cancelled");
        return { sentAt: new Date() };
      },
      input,
      { signal: controller.signal },
    );
    assert.deepEqual(result, { ...nothingReported, _tag: "cancelled" });
  });

  it("gives a transactional handler a ctx.tx that rejects with a NoDatabaseError, or the one given", async () => {
    const booked = defineJob({ queue: "ledger", input: t.type({ amount: t.number }) });
    const result = await perform(
      booked,
      transactional(async ({ amount }, { tx }) => {
        await tx.query("insert into ledger (amount) values ($1)", [amount]);
        return null;
      }),
      { amount: 5 },
    );
    assert.ok(result._tag === "failed");
    assert.ok(result.error instanceof NoDatabaseError);
    assert.match(
      result.message,
      /perform has no database: ctx\.tx\.query cannot be used \(give perform a `tx`/,
    );
    // A plain handler has no tx at all, as under a worker.
    await perform(
      booked,
      async (_value, ctx) => {
        assert.equal("tx" in ctx, false);
        return null;
      },
      { amount: 1 },
    );
  });

  it("keeps no state between calls: 50 at once each see their own input, context and result", async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, n) =>
        perform(
          email,
          async ({ userId }, { taskId, attempt }) => {
            await new Promise((resolve) => setImmediate(resolve));
            if (n % 2 === 1) throw new Error(`odd ${userId} ${taskId} ${attempt}`);
            return { sentAt: new Date(userId * 1000) };
          },
          { ...input, userId: n },
          { taskId: String(n + 1), attempt: (n % 3) + 1 },
        ),
      ),
    );
    results.forEach((result, n) => {
      if (n % 2 === 0)
        assert.deepEqual(result, {
          ...nothingReported,
          _tag: "succeeded",
          output: { sentAt: new Date(n * 1000) },
        });
      else {
        assert.ok(result._tag === "failed");
        assert.equal(result.message, `odd ${n} ${n + 1} ${(n % 3) + 1}`);
        assert.equal(result.willRetry, (n % 3) + 1 < 3);
      }
    });
  });

  it("refuses options it does not know, and bad values, naming them", async () => {
    const handler = async () => ({ sentAt: new Date() });
    await assert.rejects(perform(email, handler, input, { atempt: 2 } as never), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /atempt.*attempt/);
      return true;
    });
    await assert.rejects(perform(email, handler, input, { attempt: 0 }), /attempt/);
    await assert.rejects(perform(email, handler, input, { taskId: "x" }), /task id/);
    await assert.rejects(perform(email, handler, input, { taskOptions: { timeoutMs: -1 } }), /timeoutMs/);
    await assert.rejects(
      perform(email, handler, input, { taskOptions: { tiemoutMs: 1 } as never }),
      /tiemoutMs/,
    );
  });
});

describe("perform: a multi-step job run to its output", () => {
  const signup = defineStepJob({
    queue: "signup",
    input: t.type({ userId: t.number }),
    output: t.type({ welcomed: t.number, at: DateFromISOString }),
  });

  it("runs each step on what the one before handed on (as stored JSON), records each transition, and ends with the output", async () => {
    const contexts: Array<{
      jobId: string;
      stepIndex: number;
      stepCount: number;
      taskId: string;
      state: string;
    }> = [];
    const steps = Steps.of(signup, { state: "shared" })
      .step(async ({ userId }, ctx) => {
        contexts.push({ ...ctx, state: ctx.state });
        return next({ userId, token: `t${userId}` });
      })
      // A day's delay: recorded, not waited for.
      .step(async ({ userId, token }, ctx) => {
        contexts.push({ ...ctx, state: ctx.state });
        return nextAfter({ userId, token: token.toUpperCase() }, 86_400_000);
      })
      .step(async ({ userId }, ctx) => {
        contexts.push({ ...ctx, state: ctx.state });
        return done({ welcomed: userId, at: new Date("2026-03-04T00:00:00.000Z") });
      });
    const started = performance.now();
    const result = await perform(signup, steps, { userId: 7 });
    assert.ok(performance.now() - started < 2_000);
    assert.ok(result._tag === "succeeded");
    assert.deepEqual(result.output, { welcomed: 7, at: new Date("2026-03-04T00:00:00.000Z") });
    assert.deepEqual(
      result.steps.map(({ stepIndex, taskId, input, returned }) => ({ stepIndex, taskId, input, returned })),
      [
        {
          stepIndex: 0,
          taskId: "1",
          input: { userId: 7 },
          returned: { _tag: "next", value: { userId: 7, token: "t7" }, delayMs: 0 },
        },
        {
          stepIndex: 1,
          taskId: "2",
          input: { userId: 7, token: "t7" },
          returned: { _tag: "next", value: { userId: 7, token: "T7" }, delayMs: 86_400_000 },
        },
        {
          stepIndex: 2,
          taskId: "3",
          input: { userId: 7, token: "T7" },
          returned: { _tag: "done", value: { welcomed: 7, at: "2026-03-04T00:00:00.000Z" } },
        },
      ],
    );
    assert.deepEqual(
      contexts.map(({ jobId, stepIndex, stepCount, taskId, state }) => ({
        jobId,
        stepIndex,
        stepCount,
        taskId,
        state,
      })),
      [0, 1, 2].map((index) => ({
        jobId: result.jobId,
        stepIndex: index,
        stepCount: 3,
        taskId: String(index + 1),
        state: "shared",
      })),
    );
  });

  it("stops at the step that fails, with the steps before it and the failure as the worker classifies it", async () => {
    const steps = Steps.of(signup)
      .step(async ({ userId }) => next({ userId }))
      .step(async (): Promise<never> => {
        throw new FatalError("mailbox gone");
      });
    const result = await perform(
      signup,
      steps,
      { userId: 1 },
      { jobId: "8e3c3f8e-1b7c-4a5e-9a61-2d6f1f0b9c11" },
    );
    assert.ok(result._tag === "failed");
    assert.equal(result.stepIndex, 1);
    assert.equal(result.kind, "Fatal");
    assert.equal(result.jobId, "8e3c3f8e-1b7c-4a5e-9a61-2d6f1f0b9c11");
    assert.deepEqual(
      result.steps.map((step) => step.returned?._tag),
      ["next", undefined],
    );
  });

  it("fails a value handed on that JSON cannot hold, as the worker would", async () => {
    const steps = Steps.of(signup)
      .step(async () => next({ n: Number.POSITIVE_INFINITY }))
      .step(async () => done({ welcomed: 1, at: new Date() }));
    const result = await perform(signup, steps, { userId: 1 });
    assert.ok(result._tag === "failed");
    assert.equal(result.stepIndex, 0);
    assert.equal(result.kind, "Fatal");
  });

  it("refuses a handler for a multi-step job, and Steps for a plain one", async () => {
    await assert.rejects(
      perform(signup, (async () => null) as never, { userId: 1 }),
      /multi-step job: give its Steps/,
    );
    const steps = Steps.of(signup).step(async () => done({ welcomed: 1, at: new Date() }));
    await assert.rejects(perform(email, steps as never, input), /takes a handler, not Steps/);
  });
});

describe("matchesInput: expectEnqueued's partial deep pattern", () => {
  it("compares a Set, a Map, a URL or a class instance in the pattern by its contents, never as an empty pattern that matches anything", () => {
    assert.equal(matchesInput({ tags: new Set(["a"]) }, { tags: new Set(["b"]) }), false);
    assert.equal(matchesInput({ tags: new Set(["a"]) }, { tags: new Set(["a"]) }), true);
    assert.equal(matchesInput({ m: new Map([["k", 1]]) }, { m: new Map([["k", 2]]) }), false);
    assert.equal(
      matchesInput({ site: new URL("https://a.example/") }, { site: new URL("https://b.example/") }),
      false,
    );
    assert.equal(
      matchesInput({ site: new URL("https://a.example/") }, { site: new URL("https://a.example/") }),
      true,
    );
    // A plain object is not a Set: a pattern of one asks for one.
    assert.equal(matchesInput({ tags: { size: 1 } }, { tags: new Set(["a"]) }), false);
    // A plain pattern of a class instance a codec decoded reads its own fields.
    class Money {
      constructor(
        readonly amount: number,
        readonly currency: string,
      ) {}
    }
    assert.equal(matchesInput({ price: new Money(5, "EUR") }, { price: { amount: 5 } }), true);
    assert.equal(matchesInput({ price: new Money(5, "EUR") }, { price: { amount: 6 } }), false);
    // Plain and null-prototype objects stay partial patterns.
    assert.equal(matchesInput({ a: 1, b: 2 }, Object.assign(Object.create(null) as object, { a: 1 })), true);
  });
});
