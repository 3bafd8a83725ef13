import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob, defineStepJob, ValidationError } from "../src/index.ts";
import type { Queryable } from "../src/db/query.ts";
import { eventually, useDatabase } from "./support/harness.ts";

const WelcomeEmail = t.type({ userId: t.number, email: t.string, name: t.string });
const N = t.type({ n: t.number });

describe("enqueue", () => {
  const { db, connect } = useDatabase("enqueue");

  const count = async (queue: string): Promise<number> => {
    const { rows } = await db().pool.query<{ n: number }>(
      "select count(*)::int as n from underway.task_all where queue_name = $1",
      [queue],
    );
    return rows[0]?.n ?? -1;
  };

  it("rejects invalid input with the failing field paths and writes nothing", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "invalid", input: WelcomeEmail }));
    const bad = { userId: "42", email: "ferris@example.com" } as unknown as t.TypeOf<typeof WelcomeEmail>;
    await assert.rejects(job.enqueue(bad), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.deepEqual([...error.decodeError.paths].sort(), ["name", "userId"]);
      assert.match(error.message, /userId: expected number, got "42"/);
      return true;
    });
    await assert.rejects(job.enqueueMany([{ userId: 1, email: "a", name: "A" }, bad]), /item 1/);
    assert.equal(await count("invalid"), 0);
  });

  it("a hole in a sparse array of inputs is a ValidationError naming its index, for enqueueMany, runs and batches", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "sparse", input: N }));
    // eslint-disable-next-line no-sparse-arrays
    const holed = [{ n: 1 }, , { n: 2 }] as Array<{ n: number }>;
    await assert.rejects(job.enqueueMany(holed), (error: unknown) => {
      assert.ok(error instanceof ValidationError, String(error));
      assert.match(error.message, /item 1/);
      return true;
    });
    await assert.rejects(job.enqueueBatch(new Array<{ n: number }>(2)), (error: unknown) => {
      assert.ok(error instanceof ValidationError, String(error));
      assert.match(error.message, /item 0/);
      return true;
    });
    const steps = underway.job(defineStepJob({ queue: "sparse_steps", input: N }));
    await assert.rejects(steps.enqueueMany(holed), (error: unknown) => {
      assert.ok(error instanceof ValidationError, String(error));
      assert.match(error.message, /item 1/);
      return true;
    });
    assert.equal(await count("sparse"), 0);
    assert.equal(await count("sparse_steps"), 0);
  });

  it("enqueueMany returns ids in input order across chunks, in one transaction", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "many", input: N }));
    const inputs = Array.from({ length: 12_345 }, (_, n) => ({ n }));
    const ids = await job.enqueueMany(inputs);
    assert.equal(ids.length, inputs.length);
    const { rows } = await db().pool.query<{ id: string; n: number }>(
      "select id::text, (input->>'n')::int as n from underway.task_all where queue_name = 'many'",
    );
    const byId = new Map(rows.map((row) => [row.id, row.n]));
    ids.forEach((id, index) => assert.equal(byId.get(id), index));
  });

  it("enqueues inside the caller's transaction: rollback leaves nothing, commit wakes a worker at once", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "tx", input: N }));
    const started: number[] = [];
    // A long poll interval: only the NOTIFY of the commit can wake the worker in time.
    const worker = job.start(
      async ({ n }) => {
        started.push(n);
        return null;
      },
      { pollIntervalMs: 60_000 },
    );
    // Registered for NOTIFY: only then does an insert's trigger notify (it
    // decides at the insert, not at the commit). A 300 ms sleep stood here;
    // listening() alone is not enough: the insert below raced the worker's
    // first empty claim and registration, and half the runs waited 60 s.
    await eventually(
      async () =>
        ((await db().pool.query("select 1 from underway.queue_waiter where queue_name = 'tx'")).rowCount ??
          0) > 0,
      10_000,
      "the worker to register for NOTIFY",
    );

    const client = await db().pool.connect();
    try {
      await client.query("begin");
      await job.enqueue({ n: 1 }, { client });
      await client.query("rollback");
      assert.equal(await count("tx"), 0);

      await client.query("begin");
      const id = await job.enqueue({ n: 2 }, { client });
      await new Promise((done) => setTimeout(done, 200));
      assert.deepEqual(started, [], "not visible before commit");
      const committedAt = Date.now();
      await client.query("commit");
      const outcome = await job.outcome(id);
      assert.equal(outcome._tag, "succeeded");
      assert.ok(Date.now() - committedAt < 2_000, "woken by NOTIFY, not the 60 s poll");
      assert.deepEqual(started, [2]);
    } finally {
      client.release();
      await worker.stop();
    }
  });

  it("uniqueKey returns the live task's id instead of adding one", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "unique", input: N }));
    const first = await job.enqueue({ n: 1 }, { uniqueKey: "report-7" });
    const second = await job.enqueue({ n: 2 }, { uniqueKey: "report-7" });
    assert.equal(second, first);
    const many = await job.enqueueMany([{ n: 3 }, { n: 4 }], { uniqueKey: "report-7" });
    assert.deepEqual(many, [first, first]);
    assert.equal(await count("unique"), 1);
  });

  it("a unique key whose holder finishes between the insert and the look-up: enqueue and enqueueMany add a task of their own, not an error", async () => {
    // Found by a hostile test: producers looping on one key against a fast
    // worker got "returned no id" (enqueue, after 3 tries) and "lost track
    // of an id" (enqueueMany, at once). Here the holder is run to its end by
    // another connection right after the insert found its key taken, every
    // time for the first rounds.
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "unique_race", input: N }));
    let rounds = 0;
    const finishingHolder = (times: number): Queryable => ({
      query: async (config) => {
        const result = await db().pool.query(config);
        if (rounds >= times) return result as never;
        if (/^\s*insert into/im.test(config.text) && result.rows.length === 0) {
          // The insert found the key taken: its holder ends now.
          const ran = await job.runOnce(async () => null);
          assert.equal(ran?._tag, "succeeded", "the holder ran to its end in between");
        } else if (/unique_key = any/.test(config.text) && result.rows.length === 0) {
          // The look-up found the key free: another producer takes it at once.
          rounds += 1;
          await job.enqueue({ n: 100 + rounds }, { uniqueKey: "hot" });
        }
        return result as never;
      },
    });
    await job.enqueue({ n: 0 }, { uniqueKey: "hot" });
    const one = await job.enqueue({ n: 1 }, { uniqueKey: "hot", client: finishingHolder(5) });
    rounds = 0;
    const many = await job.enqueueMany([{ n: 2 }, { n: 3 }], {
      uniqueKey: "hot",
      client: finishingHolder(5),
    });
    assert.equal(many.length, 2);
    assert.equal(many[0], many[1], "one task for the key within the batch");
    const { rows } = await db().pool.query<{ id: string; state: string }>(
      "select id::text, state::text from underway.task_all where queue_name = 'unique_race' and id = any($1::bigint[])",
      [[one, ...many]],
    );
    assert.equal(rows.length, 2, "each call's id is a task of the queue");
  });

  it("rejects bad option values with a clear error", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "opts", input: N }));
    await assert.rejects(job.enqueue({ n: 1 }, { retry: { maxAttempts: 0 } }), /retry.maxAttempts/);
    await assert.rejects(job.enqueue({ n: 1 }, { priority: 1.5 }), /priority/);
    assert.equal(await count("opts"), 0);
  });
  it("applies per-input overrides to each task of a batch", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "per_input",
        input: N,
        options: { priority: 1 },
        optionsFor: ({ n }) => (n % 2 === 0 ? { priority: n, retry: { maxAttempts: 9 } } : {}),
      }),
    );
    const ids = await job.enqueueMany([{ n: 1 }, { n: 2 }, { n: 4 }], { timeoutMs: 5_000 });
    const { rows } = await db().pool.query(
      "select priority, max_attempts, timeout_ms from underway.task_all where id = any($1::bigint[]) order by id",
      [ids],
    );
    assert.deepEqual(rows, [
      { priority: 1, max_attempts: 5, timeout_ms: 5_000 },
      { priority: 2, max_attempts: 9, timeout_ms: 5_000 },
      { priority: 4, max_attempts: 9, timeout_ms: 5_000 },
    ]);
  });
});
