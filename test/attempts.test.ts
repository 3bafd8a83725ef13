import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import * as t from "io-ts";
import {
  AbortError,
  FatalError,
  defineJob,
  taskHistory,
  type Handler,
  type TaskOptionsInput,
  type Underway,
} from "../src/index.ts";
import { describeThrown } from "../src/describeThrown.ts";
import { eventually, useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });

const jobOf = (underway: Underway, queue: string, options: TaskOptionsInput = {}) =>
  underway.job(defineJob({ queue, input: N, options }));

/** Resolves to "timed out" if `promise` takes longer than `ms`. */
const within = <A>(promise: Promise<A>, ms: number): Promise<A | "timed out"> =>
  Promise.race([
    promise,
    new Promise<"timed out">((done) => setTimeout(() => done("timed out"), ms).unref()),
  ]);

// A Proxy whose handler is itself a Proxy: every trap it is asked for throws.
const hostileProxy = (): object =>
  new Proxy(
    {},
    new Proxy(
      {},
      {
        get: () => () => {
          throw new Error("trap");
        },
      },
    ),
  );

describe("attempts", () => {
  const { db, connect } = useDatabase("attempts");

  // A rejection nobody handles would kill a real worker process; here it is
  // recorded so each test can assert there was none.
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  before(() => process.on("unhandledRejection", onUnhandled));
  after(() => process.off("unhandledRejection", onUnhandled));

  const taskState = async (id: string) => {
    const { rows } = await db().pool.query<{ state: string; attempt: number; error: string | null }>(
      "select state::text, attempt, error from underway.task_all where id = $1",
      [id],
    );
    return rows[0];
  };

  it("stores each failed attempt's error name, message and stack, in attempts() and taskHistory()", async () => {
    const underway = await connect();
    const job = jobOf(underway, "named", { retry: { maxAttempts: 3, initialIntervalMs: 10, jitter: 0 } });
    const worker = job.start(
      async (_input, { attempt }) => {
        if (attempt === 1) throw new TypeError("kaput");
        throw new FatalError("for good");
      },
      { pollIntervalMs: 50 },
    );
    const id = await job.enqueue({ n: 1 });
    const outcome = await job.outcome(id);
    await worker.stop();
    assert.equal(outcome._tag, "failed");

    const attempts = await job.attempts(id);
    assert.deepEqual(
      attempts.map((a) => [a.attempt, a.state, a.errorName, a.error]),
      [
        [1, "failed", "TypeError", "kaput"],
        [2, "failed", "FatalError", "for good"],
      ],
    );
    assert.match(attempts[0]?.errorStack ?? "", /^TypeError: kaput\n\s+at .*attempts\.test\.ts/);
    assert.match(attempts[1]?.errorStack ?? "", /^FatalError: for good\n\s+at /);

    const history = await taskHistory(underway, id);
    assert.deepEqual(
      history.map((entry) =>
        entry._tag === "attempt"
          ? [entry.errorName, entry.error, entry.errorStack === attempts[entry.attempt - 1]?.errorStack]
          : [],
      ),
      [
        ["TypeError", "kaput", true],
        ["FatalError", "for good", true],
      ],
    );
  });

  it("bounds a stored name, message and stack", async () => {
    const underway = await connect();
    const job = jobOf(underway, "huge");
    const worker = job.start(
      async () => {
        const error = new FatalError("m".repeat(100_000));
        Object.defineProperty(error, "name", { value: "N".repeat(10_000) });
        error.stack = `S${"s".repeat(100_000)}`;
        throw error;
      },
      { pollIntervalMs: 50 },
    );
    const id = await job.enqueue({ n: 1 });
    await job.outcome(id);
    await worker.stop();
    const [attempt] = await job.attempts(id);
    assert.ok(attempt !== undefined);
    const bounded = (text: string | null, max: number, original: number) => {
      assert.ok(text !== null);
      assert.ok(text.length <= max, `${text.length} characters stored`);
      const cut = /… \[(\d+) more characters cut\]$/.exec(text);
      assert.ok(cut !== null, "says it was cut");
      // The count is right: what was kept plus what was cut is the original.
      assert.equal(text.length - cut[0].length + Number(cut[1]), original);
    };
    bounded(attempt.errorName, 200, 10_000);
    bounded(attempt.error, 8 * 1024, 100_000);
    bounded(attempt.errorStack, 16 * 1024, 100_001);
    assert.equal((await taskState(id))?.error, attempt.error);
  });

  it("stores an error with NUL and a lone surrogate: a FatalError fails after exactly one attempt", async () => {
    const underway = await connect();
    let runs = 0;
    const job = jobOf(underway, "nul", { retry: { maxAttempts: 3, initialIntervalMs: 10 } });
    // With an outcome listener, the state change's NOTIFY carries the error too.
    const seen: string[] = [];
    const sub = job.outcomes$.subscribe((outcome) => seen.push(outcome._tag));
    await underway.listening();
    const worker = job.start(
      async () => {
        runs += 1;
        throw new FatalError("bad\u0000byte \ud800");
      },
      { pollIntervalMs: 50, reapIntervalMs: 100 },
    );
    const id = await job.enqueue({ n: 1 });
    const outcome = await job.outcome(id);
    assert.ok(outcome._tag === "failed");
    assert.equal(outcome.error, "bad\uFFFDbyte \uFFFD");
    await eventually(() => seen.length === 1, 5_000, "the failed outcome");
    // Long enough for a lost write to show up as a lease expiry and a rerun.
    await new Promise((done) => setTimeout(done, 500));
    await worker.stop();
    sub.unsubscribe();
    assert.equal(runs, 1);
    assert.deepEqual(await taskState(id), { state: "failed", attempt: 1, error: "bad\uFFFDbyte \uFFFD" });
    const attempts = await job.attempts(id);
    assert.deepEqual(
      attempts.map((a) => [a.attempt, a.state, a.errorName, a.error]),
      [[1, "failed", "FatalError", "bad\uFFFDbyte \uFFFD"]],
    );
    assert.match(attempts[0]?.errorStack ?? "", /^FatalError: bad\uFFFDbyte \uFFFD\n/);
    assert.deepEqual(seen, ["failed"]);
  });

  describe("a thrown non-Error is a retryable failure, and the worker keeps running", () => {
    const cases: ReadonlyArray<{ what: string; value: () => unknown; message: string | RegExp }> = [
      {
        what: "a null-prototype object",
        value: () => Object.create(null),
        message: "[Object: null prototype] {}",
      },
      {
        what: "an object whose toString throws",
        value: () => ({
          toString() {
            throw new Error("no toString");
          },
        }),
        message: "{ toString: [Function: toString] }",
      },
      { what: "a symbol", value: () => Symbol("sym"), message: "Symbol(sym)" },
      { what: "undefined", value: () => undefined, message: "undefined" },
      { what: "a Proxy whose every trap throws", value: hostileProxy, message: /\S/ },
    ];

    for (const [index, { what, value, message }] of cases.entries()) {
      it(what, async () => {
        const underway = await connect();
        const job = jobOf(underway, `thrown_${index}`, {
          retry: { maxAttempts: 2, initialIntervalMs: 10, jitter: 0 },
        });
        const worker = job.start(
          async (_input, { attempt }) => {
            if (attempt === 1) throw value();
            return attempt;
          },
          { pollIntervalMs: 50 },
        );
        const id = await job.enqueue({ n: 1 });
        const outcome = await within(job.outcome(id), 15_000);
        assert.notEqual(outcome, "timed out", "the task ended");
        assert.equal(await within(worker.stop(), 15_000), undefined, "stop() resolved");
        // The same worker ran the retry: it survived the throw.
        assert.ok(outcome !== "timed out" && outcome._tag === "succeeded");
        assert.equal(outcome.output, 2);
        const attempts = await job.attempts(id);
        assert.deepEqual(
          attempts.map((a) => [a.attempt, a.state, a.errorName, a.errorStack]),
          [
            [1, "failed", "NonError", null],
            [2, "succeeded", null, null],
          ],
        );
        if (typeof message === "string") assert.equal(attempts[0]?.error, message);
        else assert.match(attempts[0]?.error ?? "", message);
        assert.deepEqual(unhandled, []);
      });
    }
  });

  it("describeThrown never throws, whatever it is given", () => {
    const throwingGetters = new Error("hidden");
    // The stack first: V8 formats it lazily, reading name and message.
    for (const key of ["stack", "message", "name"]) {
      Object.defineProperty(throwingGetters, key, {
        get() {
          throw new Error(`no ${key}`);
        },
      });
    }
    const values: unknown[] = [
      hostileProxy(),
      new Proxy(() => undefined, {}),
      Object.create(null),
      throwingGetters,
      {
        [Symbol.for("nodejs.util.inspect.custom")]: () => {
          throw new Error("no inspect");
        },
      },
      { message: "plain", name: "HttpError" },
      Symbol(),
      10n,
      null,
      "x\u0000y",
    ];
    for (const value of values) {
      const description = describeThrown(value);
      assert.equal(typeof description.name, "string");
      assert.equal(typeof description.message, "string");
      assert.ok(!description.message.includes("\u0000"));
    }
    assert.deepEqual(describeThrown(throwingGetters), {
      name: "Error",
      message: describeThrown(throwingGetters).message,
      stack: null,
    });
    assert.deepEqual(describeThrown({ message: "plain", name: "HttpError" }), {
      name: "HttpError",
      message: "plain",
      stack: null,
    });
    assert.equal(describeThrown("x\u0000y").message, "x\uFFFDy");
  });

  describe("the handler's signal reason is an AbortError saying why", () => {
    // Stands for any signal-aware API: rejects with the signal's reason, as fetch does.
    const untilAborted = (signal: AbortSignal) =>
      new Promise<never>((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
      );

    const abortedJob = async (underway: Underway, name: string, timeoutMs = 60_000) => {
      const seen: unknown[] = [];
      let started = 0;
      const job = jobOf(underway, name, { timeoutMs, retry: { maxAttempts: 1 } });
      const handler: Handler<{ n: number }, null> = async (_input, { signal }) => {
        started += 1;
        try {
          return await untilAborted(signal);
        } catch (error) {
          seen.push(error);
          throw error;
        }
      };
      return { job, handler, seen, started: () => started };
    };

    const assertAbortError = (error: unknown, kind: string) => {
      assert.ok(error instanceof AbortError, `${String(error)} is an AbortError`);
      assert.equal(error.kind, kind);
      assert.equal(error.name, "AbortError");
    };

    it("on timeout", async () => {
      const underway = await connect();
      const { job, handler, seen } = await abortedJob(underway, "abort_timeout", 300);
      const worker = job.start(handler, { pollIntervalMs: 50 });
      const id = await job.enqueue({ n: 1 });
      const outcome = await job.outcome(id);
      await worker.stop();
      assert.ok(outcome._tag === "failed");
      assert.equal(seen.length, 1);
      assertAbortError(seen[0], "timeout");
      assert.equal((seen[0] as Error).message, "timed out after 300 ms");
      const attempts = await job.attempts(id);
      assert.deepEqual(
        attempts.map((a) => [a.state, a.errorName, a.error, a.errorStack]),
        [["timed_out", "AbortError", "timed out after 300 ms", null]],
      );
    });

    it("on cancel", async () => {
      const underway = await connect();
      const { job, handler, seen, started } = await abortedJob(underway, "abort_cancel");
      const worker = job.start(handler, { pollIntervalMs: 50 });
      // The worker hears cancels once its LISTEN on the cancel channel is active.
      await underway.listening();
      const id = await job.enqueue({ n: 1 });
      await eventually(() => started() === 1, 10_000, "the handler to start");
      assert.equal(await job.cancel(id), true);
      await eventually(() => seen.length === 1, 10_000, "the handler to see the abort");
      await worker.stop();
      assertAbortError(seen[0], "cancelled");
    });

    it("on shutdown", async () => {
      const underway = await connect();
      const { job, handler, seen, started } = await abortedJob(underway, "abort_shutdown");
      const worker = job.start(handler, { pollIntervalMs: 50, shutdownGraceMs: 100 });
      const id = await job.enqueue({ n: 1 });
      await eventually(() => started() === 1, 10_000, "the handler to start");
      await worker.stop();
      assertAbortError(seen[0], "shutdown");
      assert.deepEqual(
        (await job.attempts(id)).map((a) => [a.state, a.errorName, a.error]),
        [["failed", "AbortError", "aborted: worker shut down before the task finished"]],
      );
    });

    it("on a lost lease", async () => {
      const underway = await connect();
      const seen: unknown[] = [];
      let started = 0;
      // Renewed every heartbeat tick, so a lost lease is noticed within ~0.5 s.
      const job = jobOf(underway, "abort_lease", { heartbeatMs: 1_500, retry: { maxAttempts: 1 } });
      const worker = job.start(
        async (_input, { signal }) => {
          started += 1;
          await untilAborted(signal).catch((error: unknown) => seen.push(error));
          return null;
        },
        { pollIntervalMs: 50, reapIntervalMs: 0 },
      );
      const id = await job.enqueue({ n: 1 });
      await eventually(() => started === 1, 10_000, "the handler to start");
      // As if another worker had reclaimed it: the next renewal is fenced off.
      await db().pool.query("update underway.task set attempt = attempt + 1 where id = $1", [id]);
      await eventually(() => seen.length === 1, 10_000, "the handler to see the abort");
      await worker.stop();
      assertAbortError(seen[0], "lease lost");
    });

    describe("fetch rejects with it", () => {
      let server: Server;
      let url: string;
      before(async () => {
        // Accepts requests and never answers them.
        server = createServer(() => undefined);
        await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      });
      after(async () => {
        server.closeAllConnections();
        await new Promise((done) => server.close(done));
      });

      it("on timeout", async () => {
        const underway = await connect();
        const seen: unknown[] = [];
        const job = jobOf(underway, "abort_fetch", { timeoutMs: 300, retry: { maxAttempts: 1 } });
        const worker = job.start(
          async (_input, { signal }) => {
            await fetch(url, { signal }).catch((error: unknown) => seen.push(error));
            return null;
          },
          { pollIntervalMs: 50 },
        );
        const id = await job.enqueue({ n: 1 });
        await job.outcome(id);
        await eventually(() => seen.length === 1, 10_000, "fetch to reject");
        await worker.stop();
        assertAbortError(seen[0], "timeout");
      });
    });
  });
});
