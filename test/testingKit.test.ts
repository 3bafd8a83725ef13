// underway/testing against a real database: expectEnqueued and
// enqueuedTasks read what a test's code enqueued; perform's verdicts are
// the ones a worker writes; a transactional handler under perform writes
// through the tx the test gives it.
import assert, { AssertionError } from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import {
  ConfigError,
  FatalError,
  Steps,
  ValidationError,
  defineJob,
  defineStepJob,
  done,
  next,
  snooze,
  transactional,
} from "../src/index.ts";
import { enqueuedTasks, expectEnqueued, perform } from "../src/testing/index.ts";
import { DateFromISOString } from "../examples/tasks/welcomeEmail.ts";
import { useDatabase } from "./support/harness.ts";

// What a handler that calls neither ctx.progress nor ctx.log reports.
const nothingReported = { progress: [], logs: [], logsCut: 0 };

const Welcome = t.type({
  userId: t.number,
  email: t.string,
  at: DateFromISOString,
  profile: t.type({ name: t.string, tags: t.array(t.string) }),
});

const welcome = (userId: number, tags: string[] = []) => ({
  userId,
  email: `user${userId}@example.com`,
  at: new Date(Date.UTC(2026, 0, userId)),
  profile: { name: `User ${userId}`, tags },
});

describe("testing kit: what a test's code enqueued", () => {
  const { connect } = useDatabase("testing_kit");

  it("finds the pending task whose decoded input matches a partial deep pattern, with the id enqueue gave", async () => {
    const underway = await connect();
    const email = defineJob({ queue: "kit_match", input: Welcome });
    const job = underway.job(email);
    await job.enqueue(welcome(1));
    const id = await job.enqueue(welcome(2, ["vip"]), { priority: 5 });
    await job.enqueue(welcome(3));
    const found = await expectEnqueued(underway, email, { profile: { tags: ["vip"] } });
    assert.equal(found.length, 1);
    assert.equal(found[0]?.id, id);
    assert.equal(found[0]?.priority, 5);
    // Decoded by the definition's schema: a Date again, matched as an instant.
    assert.ok(found[0]?.input.at instanceof Date);
    await expectEnqueued(underway, email, { at: new Date(Date.UTC(2026, 0, 3)) });
    await expectEnqueued(underway, email, (input, task) => input.userId === 1 && task.jobId === null, {
      count: 1,
    });
    assert.equal((await expectEnqueued(underway, email)).length, 3);
    assert.deepEqual(
      (await enqueuedTasks(underway, email)).map((task) => task.input.userId),
      [1, 2, 3],
    );
  });

  it("fails with an AssertionError listing what the queue holds when no task matches", async () => {
    const underway = await connect();
    const email = defineJob({ queue: "kit_none", input: Welcome });
    await underway.job(email).enqueueMany([welcome(1), welcome(2)]);
    await assert.rejects(expectEnqueued(underway, email, { userId: 9 }), (error: unknown) => {
      assert.ok(error instanceof AssertionError);
      assert.match(
        error.message,
        /^expected a pending task matching \{"userId":9\} in queue kit_none, found 0/,
      );
      // Each task by id and input (as jsonb orders its keys), the Date as stored.
      assert.match(
        error.message,
        /\n {2}#\d+ \{"at":"2026-01-01T00:00:00\.000Z","email":"user1@example\.com","userId":1,/,
      );
      assert.match(
        error.message,
        /\n {2}#\d+ \{"at":"2026-01-02T00:00:00\.000Z","email":"user2@example\.com","userId":2,/,
      );
      return true;
    });
    // A partial pattern is deep, not loose: an array is matched whole, a field must exist.
    await assert.rejects(expectEnqueued(underway, email, { profile: { tags: ["vip"] } }), AssertionError);
    await assert.rejects(expectEnqueued(underway, email, { profile: { extra: 1 } } as never), AssertionError);
    // An empty queue says so.
    const empty = defineJob({ queue: "kit_empty", input: Welcome });
    await assert.rejects(expectEnqueued(underway, empty), /found 0; the queue has no pending task$/);
    // count: exactly that many; 0 asserts that none matches.
    await expectEnqueued(underway, email, { userId: 9 }, { count: 0 });
    await assert.rejects(
      expectEnqueued(underway, email, undefined, { count: 1 }),
      /expected 1 pending task\(s\).*found 2/,
    );
  });

  it("keeps its failure message readable on a long queue of long inputs: 20 tasks listed, each cut", async () => {
    const underway = await connect();
    const notes = defineJob({ queue: "kit_long", input: t.type({ note: t.string }) });
    await underway
      .job(notes)
      .enqueueMany(Array.from({ length: 25 }, (_, n) => ({ note: `${n}:${"x\u2028\"'<".repeat(500)}` })));
    await assert.rejects(expectEnqueued(underway, notes, { note: "absent" }), (error: unknown) => {
      assert.ok(error instanceof AssertionError);
      const lines = error.message.split("\n");
      assert.equal(lines.length, 1 + 20 + 1);
      assert.equal(lines.at(-1), "  … and 5 more");
      for (const line of lines.slice(1, 21)) assert.ok(line.length < 240 && line.endsWith("…"), line);
      return true;
    });
  });

  it("sees pending tasks only: not those that ran, not another queue's, not a job's later steps", async () => {
    const underway = await connect();
    const email = defineJob({ queue: "kit_pending", input: t.type({ n: t.number }) });
    const job = underway.job(email);
    await job.enqueue({ n: 1 });
    assert.notEqual(await job.runOnce(async () => null), undefined);
    await job.enqueue({ n: 2 });
    await underway.job(defineJob({ queue: "kit_other", input: t.type({ n: t.number }) })).enqueue({ n: 3 });
    assert.deepEqual(
      (await enqueuedTasks(underway, email)).map((task) => task.input),
      [{ n: 2 }],
    );

    const signup = defineStepJob({ queue: "kit_steps", input: t.type({ userId: t.number }) });
    const runs = underway.job(signup);
    const first = await runs.enqueue({ userId: 1 });
    const steps = Steps.of(signup)
      .step(async ({ userId }) => next({ token: `t${userId}` }))
      .step(async () => done());
    // Run 1's first step runs: its second step is pending, with another input.
    assert.notEqual(await runs.runOnce(steps), undefined);
    const second = await runs.enqueue({ userId: 2 });
    const pending = await expectEnqueued(underway, signup, {});
    assert.deepEqual(
      pending.map((task) => [task.jobId, task.input]),
      [[second, { userId: 2 }]],
    );
    assert.notEqual(first, second);
  });

  it("refuses a pending task this definition cannot decode, naming it, and options it does not know", async () => {
    const underway = await connect();
    const numbers = defineJob({ queue: "kit_shared", input: t.type({ n: t.number }) });
    const strings = defineJob({ queue: "kit_shared", input: t.type({ s: t.string }) });
    const id = await underway.job(strings).enqueue({ s: "x" });
    await assert.rejects(enqueuedTasks(underway, numbers), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, new RegExp(`pending task ${id} of queue kit_shared does not decode`));
      return true;
    });
    await assert.rejects(enqueuedTasks(underway, strings, { limt: 5 } as never), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /limt.*limit/);
      return true;
    });
    await assert.rejects(expectEnqueued(underway, strings, {}, { count: -1 }), /count/);
    await assert.rejects(expectEnqueued(underway, strings, {}, { limit: 0 }), /limit/);
    // limit: the message says the list was cut.
    await underway.job(strings).enqueueMany([{ s: "y" }, { s: "z" }]);
    await assert.rejects(expectEnqueued(underway, strings, { s: "z" }, { limit: 2 }), /the first 2 read/);
  });
});

describe("testing kit: perform agrees with a worker", () => {
  const { db, connect } = useDatabase("testing_kit_perform");

  it("classifies success, a FatalError, a retryable throw and a snooze as a worker's runOnce records them", async () => {
    const underway = await connect();
    const definition = defineJob({
      queue: "kit_agree",
      input: t.type({ mode: t.string }),
      options: { retry: { maxAttempts: 2, initialIntervalMs: 60_000, maxIntervalMs: 60_000 } },
    });
    const handler = async ({ mode }: { mode: string }) => {
      if (mode === "fatal") throw new FatalError("gone for good");
      if (mode === "retry") throw new Error("try later");
      if (mode === "snooze") return snooze(30_000);
      return { mode };
    };
    const job = underway.job(definition);
    for (const mode of ["ok", "fatal", "retry", "snooze"]) {
      await job.enqueue({ mode });
      const worker = await job.runOnce(handler);
      const performed = await perform(definition, handler, { mode });
      assert.ok(worker !== undefined);
      const expected = { ok: "succeeded", fatal: "failed", retry: "retrying", snooze: "snoozed" }[mode];
      assert.equal(worker._tag, expected);
      if (worker._tag === "succeeded")
        assert.deepEqual(performed, { ...nothingReported, _tag: "succeeded", output: worker.output });
      else if (worker._tag === "snoozed")
        assert.deepEqual(performed, { ...nothingReported, _tag: "snoozed", delayMs: worker.delayMs });
      else {
        assert.ok(performed._tag === "failed");
        assert.equal(
          performed.message,
          worker._tag === "failed" || worker._tag === "retrying" ? worker.error : "",
        );
        assert.equal(performed.willRetry, worker._tag === "retrying");
      }
    }
  });

  it("gives a transactional handler the tx the test passes: its writes are seen there and rolled back with it", async () => {
    const pool = db().pool;
    await pool.query("create table kit_ledger (amount int not null)");
    const booked = defineJob({ queue: "kit_ledger", input: t.type({ amount: t.number }) });
    const book = transactional(async ({ amount }: { amount: number }, { tx }) => {
      await tx.query("insert into kit_ledger (amount) values ($1)", [amount]);
      return { booked: amount };
    });
    const client = await pool.connect();
    try {
      await client.query("begin");
      const result = await perform(booked, book, { amount: 5 }, { tx: client });
      assert.deepEqual(result, { ...nothingReported, _tag: "succeeded", output: { booked: 5 } });
      const inside = await client.query<{ amount: number }>("select amount from kit_ledger");
      assert.deepEqual(inside.rows, [{ amount: 5 }]);
      await client.query("rollback");
    } finally {
      client.release();
    }
    const after = await pool.query("select amount from kit_ledger");
    assert.equal(after.rowCount, 0);
  });
});
