import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { filter, firstValueFrom, type Observable } from "rxjs";
import * as v from "valibot";
import { z } from "zod";
import {
  ConfigError,
  Steps,
  TaskFailedError,
  ValidationError,
  defineJob,
  defineStepJob,
  done,
  next,
  type Outcome,
} from "../src/index.ts";
import { DateFromISOString } from "../examples/tasks/welcomeEmail.ts";
import { eventually, recordingLogger, useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });
const sentAt = new Date("2024-06-01T12:34:56.789Z");

/** The first succeeded outcome of `id` on a stream. */
const succeededOn = <O>(outcomes$: Observable<Outcome<O>>, id: () => string | undefined) =>
  firstValueFrom(
    outcomes$.pipe(
      filter(
        (outcome): outcome is Extract<Outcome<O>, { _tag: "succeeded" }> =>
          outcome._tag === "succeeded" && outcome.taskId === id(),
      ),
    ),
  );

describe("job definitions", () => {
  const { db, connect } = useDatabase("definition");

  const count = async (queue: string): Promise<number> => {
    const { rows } = await db().pool.query<{ n: number }>(
      "select count(*)::int as n from underway.task_all where queue_name = $1",
      [queue],
    );
    return rows[0]?.n ?? -1;
  };

  it("a producer client without a handler enqueues; a worker client runs it with the definition's options", async () => {
    // Two clients, as two processes would have: one only enqueues and waits, the other only works.
    const [producer, worker] = await Promise.all([connect(), connect()]);
    const report = defineJob({
      queue: "report",
      input: N,
      output: t.type({ doubled: t.number }),
      options: { retry: { maxAttempts: 7 }, timeoutMs: 12_345, priority: 3 },
    });
    const seen: Array<{ maxAttempts: number; n: number }> = [];
    const running = worker.job(report).start(async ({ n }, { maxAttempts }) => {
      seen.push({ maxAttempts, n });
      return { doubled: n * 2 };
    });
    try {
      const reports = producer.job(report);
      assert.equal(reports.queue, "report");
      const id = await reports.enqueue({ n: 21 });
      assert.deepEqual(await reports.result(id), { doubled: 42 });
      assert.deepEqual(seen, [{ maxAttempts: 7, n: 21 }]);
      const { rows } = await db().pool.query(
        "select max_attempts, timeout_ms, priority from underway.task_all where id = $1",
        [id],
      );
      assert.deepEqual(rows, [{ max_attempts: 7, timeout_ms: 12_345, priority: 3 }]);
    } finally {
      await running.stop();
    }
  });

  it("rejects a bad definition where it is written", () => {
    assert.throws(() => defineJob({ queue: "bad name!", input: N }), ConfigError);
    assert.throws(() => defineJob({ queue: "same", dlq: "same", input: N }), ConfigError);
    assert.throws(
      () => defineJob({ queue: "opts", input: N, options: { retry: { maxAttempts: 0 } } }),
      /retry.maxAttempts/,
    );
  });

  it("validates ids before any query: task ids are positive integers, job ids UUIDs", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "ids", input: N }));
    const steps = underway.job(defineStepJob({ queue: "ids_steps", input: N }));
    for (const bad of ["", "abc", "0", "-1", "1.5", "1; drop table", "99999999999999999999"]) {
      assert.throws(() => job.outcome(bad), ValidationError, bad);
      assert.throws(() => job.attempts(bad), ValidationError, bad);
      await assert.rejects(async () => job.result(bad), ValidationError, bad);
      await assert.rejects(async () => job.cancel(bad), ValidationError, bad);
    }
    for (const bad of ["1", "not-a-uuid", "00000000-0000-0000-0000-00000000000g"]) {
      assert.throws(() => steps.outcome(bad), ValidationError, bad);
      await assert.rejects(async () => steps.result(bad), ValidationError, bad);
      await assert.rejects(async () => steps.cancel(bad), ValidationError, bad);
    }
  });

  it("an io-ts output codec gives a Date to result(), outcome() and outcomes$ in another client", async () => {
    const [worker, reader] = await Promise.all([connect(), connect()]);
    const welcome = defineJob({
      queue: "welcome",
      input: N,
      output: t.type({ sentAt: DateFromISOString }),
    });
    const readerJob = reader.job(welcome);
    let id: string | undefined;
    const streamed = succeededOn(readerJob.outcomes$, () => id);
    await reader.listening();
    const running = worker.job(welcome).start(async () => ({ sentAt }));
    const ownOutcome = succeededOn(running.outcomes$, () => id);
    try {
      id = await readerJob.enqueue({ n: 1 });
      const result = await readerJob.result(id);
      assert.ok(result.sentAt instanceof Date, "result() gives a Date");
      assert.equal(result.sentAt.getTime(), sentAt.getTime());
      const outcome = await readerJob.outcome(id);
      assert.ok(
        outcome._tag === "succeeded" && outcome.output.sentAt instanceof Date,
        "outcome() gives a Date",
      );
      assert.equal(outcome.output.sentAt.getTime(), sentAt.getTime());
      for (const viaStream of [await streamed, await ownOutcome]) {
        assert.ok(viaStream.output.sentAt instanceof Date, "outcomes$ gives a Date");
        assert.equal(viaStream.output.sentAt.getTime(), sentAt.getTime());
      }
      // Stored as the codec's JSON form.
      const { rows } = await db().pool.query("select output from underway.task_all where id = $1", [id]);
      assert.deepEqual(rows[0].output, { sentAt: sentAt.toISOString() });
    } finally {
      await running.stop();
    }
  });

  it("a handler that returns nothing succeeds on its first attempt, its output stored as null", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({ queue: "returns_nothing", input: N, options: { retry: { maxAttempts: 3 } } }),
    );
    const sent: number[] = [];
    const running = job.start(async ({ n }) => {
      sent.push(n);
    });
    try {
      const id = await job.enqueue({ n: 7 });
      assert.equal(await job.result(id), null);
      const outcome = await job.outcome(id);
      assert.equal(outcome._tag, "succeeded");
      assert.equal(outcome.attempt, 1);
      assert.deepEqual(sent, [7], "the side effect ran once: no retry repeated it");
      const attempts = await job.attempts(id);
      assert.deepEqual(
        attempts.map((attempt) => attempt.state),
        ["succeeded"],
      );
    } finally {
      await running.stop();
    }
  });

  it("with an output schema, a handler that returns nothing fails its schema, as before", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({ queue: "void_with_schema", input: N, output: t.type({ total: t.number }) }),
    );
    const running = job.start((async () => undefined) as unknown as () => Promise<{ total: number }>);
    try {
      const id = await job.enqueue({ n: 1 });
      await assert.rejects(job.result(id), TaskFailedError);
    } finally {
      await running.stop();
    }
  });

  it("a second definition of a queue bound on this client, with another schema, kind or DLQ, is a ConfigError at underway.job()", async () => {
    const underway = await connect();
    const Welcome = t.type({ userId: t.number, email: t.string, name: t.string });
    const welcome = defineJob({ queue: "clash_email", input: Welcome });
    underway.job(welcome);
    underway.job(welcome); // the same definition binds again
    // The same schemas with other options (a helper defining it per call) read tasks alike.
    underway.job(defineJob({ queue: "clash_email", input: Welcome, options: { priority: 5 } }));
    const clashing = (bind: () => unknown) =>
      assert.throws(
        bind,
        (error: unknown) =>
          error instanceof ConfigError &&
          /queue clash_email already belongs to another definition/.test(error.message),
      );
    const otherInput = defineJob({ queue: "clash_email", input: t.type({ to: t.string }) });
    clashing(() => underway.job(otherInput));
    clashing(() => underway.job(defineStepJob({ queue: "clash_email", input: Welcome })));
    clashing(() => underway.job(defineJob({ queue: "clash_email", dlq: "clash_email_dlq", input: Welcome })));
    clashing(() =>
      underway.job(defineJob({ queue: "clash_email", input: Welcome, output: t.type({ sent: t.boolean }) })),
    );
    // Another client is another process: it binds its own.
    const other = await connect();
    other.job(otherInput);
  });

  it("a task whose input does not decode at the worker is dead-lettered at once, naming two definitions of one queue, logged at error without the input", async () => {
    const log = recordingLogger();
    // Two processes, two definitions of one queue name: the producer's input is not the worker's.
    const [producer, worker] = await Promise.all([connect(), connect({ logger: log })]);
    const signup = defineJob({
      queue: "two_definitions",
      input: t.type({ userId: t.number, email: t.string, name: t.string }),
    });
    const dlqPage = defineJob({
      queue: "two_definitions",
      dlq: "two_definitions_dlq",
      input: t.type({ to: t.string }),
      options: { retry: { maxAttempts: 5, initialIntervalMs: 10 } },
    });
    let ran = 0;
    const running = worker.job(dlqPage).start(async () => {
      ran += 1;
    });
    try {
      const id = await producer
        .job(signup)
        .enqueue({ userId: 1, email: "secret@example.com", name: "Ferris" });
      const outcome = await worker.job(dlqPage).outcome(id);
      assert.equal(outcome._tag, "failed");
      assert.ok(outcome._tag === "failed");
      assert.equal(outcome.attempt, 1, "no retry: the same code would refuse it again");
      assert.equal(outcome.deadLetterQueue, "two_definitions_dlq");
      assert.match(outcome.error, /does the queue name two_definitions belong to two definitions\?/);
      assert.equal(ran, 0);
      await eventually(() => log.lines.some((line) => line.level === "error"), 5_000, "an error line");
      const lines = log.lines.filter((line) => line.level !== "info");
      assert.deepEqual(
        lines.map((line) => [line.level, line.message]),
        [["error", "task input did not decode; moved to dead-letter queue two_definitions_dlq"]],
      );
      const details = lines[0]?.details ?? {};
      assert.equal(details["queue"], "two_definitions");
      assert.equal(details["taskId"], id);
      assert.equal(details["attempt"], "1 of 5");
      assert.match(String(details["error"]), /^ValidationError: .*to.*belong to two definitions/);
      assert.doesNotMatch(JSON.stringify(lines), /secret@example\.com|Ferris/, "no input in the log");
    } finally {
      await running.stop();
    }
  });

  it("declare() records a queue and its DLQ before the first enqueue, for ops in any process; it binds like job()", async () => {
    const [deployer, inspector] = await Promise.all([connect(), connect()]);
    const invoices = defineJob({ queue: "declared_invoices", dlq: "declared_invoices_dlq", input: N });
    const listed = async () =>
      (await inspector.ops.queues())
        .filter((queue) => queue.queue.startsWith("declared_invoices"))
        .map(({ queue, dlq }) => ({ queue, dlq }));
    assert.deepEqual(await listed(), []);
    await deployer.declare(invoices);
    await deployer.declare(invoices); // idempotent
    assert.deepEqual(
      (await listed()).sort((a, b) => a.queue.localeCompare(b.queue)),
      [
        { queue: "declared_invoices", dlq: "declared_invoices_dlq" },
        { queue: "declared_invoices_dlq", dlq: null },
      ],
    );
    assert.equal(await count("declared_invoices"), 0, "nothing enqueued");
    await assert.rejects(
      deployer.declare(defineJob({ queue: "declared_invoices", input: t.type({ to: t.string }) })),
      ConfigError,
    );
  });

  it("an io-ts output codec is checked on the worker: a bad output fails the task, naming the path", async () => {
    const underway = await connect();
    const checked = defineJob({ queue: "checked_output", input: N, output: t.type({ total: t.number }) });
    const job = underway.job(checked);
    const running = job.start(async () => ({ total: "ten" }) as unknown as { total: number });
    try {
      const id = await job.enqueue({ n: 1 });
      await assert.rejects(job.result(id), (error: unknown) => {
        assert.ok(error instanceof TaskFailedError);
        assert.match(error.message, /total: expected number, got "ten"/);
        return true;
      });
    } finally {
      await running.stop();
    }
  });

  describe("Standard Schema", () => {
    it("zod: input errors name the path; input and output transforms reach handler and readers", async () => {
      const [producer, worker] = await Promise.all([connect(), connect()]);
      const signup = defineJob({
        queue: "zod_signup",
        input: z.object({
          user: z.object({ email: z.email(), name: z.string().transform((name) => name.toUpperCase()) }),
        }),
        output: z.object({
          sentAt: z.iso.datetime().transform((text) => new Date(text)),
          count: z.coerce.number(),
        }),
      });
      const job = producer.job(signup);
      await assert.rejects(
        job.enqueue({ user: { email: "not an email", name: "ferris" } }),
        (error: unknown) => {
          assert.ok(error instanceof ValidationError);
          assert.deepEqual(error.decodeError.paths, ["user.email"]);
          assert.match(error.message, /user\.email: /);
          return true;
        },
      );
      await assert.rejects(
        job.enqueueMany([{ user: { email: "a@example.com", name: "a" } }, { user: {} } as never]),
        (error: unknown) => error instanceof ValidationError && /item 1/.test(error.message),
      );
      assert.equal(await count("zod_signup"), 0);

      const names: string[] = [];
      const running = worker.job(signup).start(async ({ user }) => {
        names.push(user.name);
        return { sentAt: sentAt.toISOString(), count: "3" };
      });
      try {
        const id = await job.enqueue({ user: { email: "ferris@example.com", name: "ferris" } });
        const result = await job.result(id);
        assert.deepEqual(names, ["FERRIS"], "the handler gets the transformed input");
        assert.ok(result.sentAt instanceof Date, "readers get the transformed output");
        assert.equal(result.sentAt.getTime(), sentAt.getTime());
        assert.equal(result.count, 3);
        const outcome = await job.outcome(id);
        assert.ok(outcome._tag === "succeeded" && outcome.output.sentAt instanceof Date);
        // Stored as the handler returned it; the transform runs on the reading side.
        const { rows } = await db().pool.query("select input, output from underway.task_all where id = $1", [
          id,
        ]);
        assert.deepEqual(rows[0], {
          input: { user: { email: "ferris@example.com", name: "ferris" } },
          output: { sentAt: sentAt.toISOString(), count: "3" },
        });
      } finally {
        await running.stop();
      }
    });

    it("valibot: input errors name the path; a transformed output reaches readers; a bad output fails the task", async () => {
      const [producer, worker] = await Promise.all([connect(), connect()]);
      const order = defineJob({
        queue: "valibot_order",
        input: v.object({ order: v.object({ quantity: v.pipe(v.number(), v.integer(), v.minValue(1)) }) }),
        output: v.object({
          shippedAt: v.pipe(
            v.string(),
            v.isoTimestamp(),
            v.transform((text) => new Date(text)),
          ),
        }),
      });
      const job = producer.job(order);
      await assert.rejects(job.enqueue({ order: { quantity: 0 } }), (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.deepEqual(error.decodeError.paths, ["order.quantity"]);
        assert.match(error.message, /order\.quantity: /);
        return true;
      });
      assert.equal(await count("valibot_order"), 0);

      const running = worker
        .job(order)
        .start(async ({ order: { quantity } }) =>
          quantity === 13 ? { shippedAt: "whenever" } : { shippedAt: sentAt.toISOString() },
        );
      try {
        const [good, bad] = await job.enqueueMany([{ order: { quantity: 2 } }, { order: { quantity: 13 } }]);
        const result = await job.result(good!);
        assert.ok(result.shippedAt instanceof Date);
        assert.equal(result.shippedAt.getTime(), sentAt.getTime());
        await assert.rejects(job.result(bad!), (error: unknown) => {
          assert.ok(error instanceof TaskFailedError);
          assert.match(error.message, /shippedAt: /);
          return true;
        });
      } finally {
        await running.stop();
      }
    });
  });

  describe("values jsonb cannot hold", () => {
    const Anything = t.type({ payload: t.unknown });
    const cases: Array<[string, unknown, string, RegExp]> = [
      ["NaN", { a: [1, Number.NaN] }, "payload.a[1]", /NaN is not a JSON number/],
      ["Infinity", { b: Number.POSITIVE_INFINITY }, "payload.b", /Infinity is not a JSON number/],
      ["NUL", { c: { d: "a\u0000b" } }, "payload.c.d", /NUL/],
      ["a lone surrogate", { e: "\ud800x" }, "payload.e", /lone UTF-16 surrogate/],
      ["a lone low surrogate", ["\udc00"], "payload[0]", /lone UTF-16 surrogate/],
      ["a NUL in a key", { "k\u0000": 1 }, "payload.k\u0000", /its key contains a NUL/],
    ];

    for (const [what, payload, path, message] of cases) {
      it(`refuses ${what} in an input, naming ${JSON.stringify(path)}, and writes nothing`, async () => {
        const underway = await connect();
        const queue = `unsafe_${cases.findIndex((entry) => entry[0] === what)}`;
        const job = underway.job(defineJob({ queue, input: Anything }));
        const check = (error: unknown) => {
          assert.ok(error instanceof ValidationError, String(error));
          assert.deepEqual(error.decodeError.paths, [path]);
          assert.match(error.message, message);
          return true;
        };
        await assert.rejects(job.enqueue({ payload }), check);
        await assert.rejects(job.enqueueMany([{ payload: 1 }, { payload }]), check);
        assert.equal(await count(queue), 0);
      });
    }

    it("refuses them in Standard Schema inputs and in multi-step inputs too", async () => {
      const underway = await connect();
      const zodJob = underway.job(defineJob({ queue: "unsafe_zod", input: z.object({ x: z.number() }) }));
      await assert.rejects(
        zodJob.enqueue({ x: Number.NaN }),
        (error: unknown) => error instanceof ValidationError && error.decodeError.paths.join() === "x",
      );
      const steps = underway.job(defineStepJob({ queue: "unsafe_steps", input: t.type({ s: t.string }) }));
      await assert.rejects(
        steps.enqueue({ s: "\ud83d" }),
        (error: unknown) => error instanceof ValidationError && error.decodeError.paths.join() === "s",
      );
      assert.equal((await count("unsafe_zod")) + (await count("unsafe_steps")), 0);
    });

    it("fails a task whose output jsonb cannot hold, naming the path, instead of storing null", async () => {
      const underway = await connect();
      const job = underway.job(defineJob({ queue: "unsafe_output", input: N }));
      const running = job.start(async ({ n }) => ({ ratio: n / 0 }));
      try {
        const id = await job.enqueue({ n: 1 });
        await assert.rejects(job.result(id), (error: unknown) => {
          assert.ok(error instanceof TaskFailedError);
          assert.match(error.message, /ratio: Infinity is not a JSON number/);
          return true;
        });
      } finally {
        await running.stop();
      }
    });

    it("fails a step that hands the next step a value jsonb cannot hold", async () => {
      const underway = await connect();
      const definition = defineStepJob({
        queue: "unsafe_step_value",
        input: N,
        options: { retry: { maxAttempts: 1 } },
      });
      const chain = Steps.of(definition)
        .step(async ({ n }) => next({ s: `x\u0000${n}` }))
        .step(async ({ s }) => done(s));
      const job = underway.job(definition);
      const running = job.start(chain);
      try {
        const jobId = await job.enqueue({ n: 1 });
        await assert.rejects(job.result(jobId), (error: unknown) => {
          assert.ok(error instanceof TaskFailedError);
          // Steps are counted from 1 here: the first step handed the NUL on.
          assert.match(
            error.message,
            /value step 1 of 2 \(queue unsafe_step_value\) hands to the next step: s: contains a NUL/,
          );
          return true;
        });
        const { rows } = await db().pool.query("select step_index from underway.task_all where job_id = $1", [
          jobId,
        ]);
        assert.deepEqual(rows, [{ step_index: 0 }], "the second step was never enqueued");
      } finally {
        await running.stop();
      }
    });
  });
});
