import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as E from "fp-ts/lib/Either.js";
import * as t from "io-ts";
import { ConfigError, defineJob, startRetention, sweepExpired, type Underway } from "../src/index.ts";
import { depsOf } from "../src/client/clientDeps.ts";
import { eventually, recordingLogger, useDatabase } from "./support/harness.ts";

const Input = t.type({ n: t.number });

describe("retention", () => {
  const { db, connect } = useDatabase("retention");

  const enqueue = async (underway: Underway, queue: string, count: number, ttlMs: number) => {
    const job = underway.job(defineJob({ queue, input: Input }));
    return job.enqueueMany(
      Array.from({ length: count }, (_, n) => ({ n })),
      { ttlMs },
    );
  };

  /** Puts tasks in a state as if they got there long ago. */
  const setState = async (ids: ReadonlyArray<string>, state: string, finishedAgo: string | null) => {
    await db().pool.query(
      `update underway.task
          set state = $2::underway.task_state,
              finished_at = case when $3::interval is null then null else now() - $3::interval end,
              created_at = now() - interval '30 days', attempt = 1
        where id = any($1::bigint[])`,
      [ids, state, finishedAgo],
    );
  };

  const addHistory = async (ids: ReadonlyArray<string>) => {
    await db().pool.query(
      `insert into underway.task_attempt (task_id, attempt, state, error)
       select id, 1, 'failed', 'boom' from unnest($1::bigint[]) id`,
      [ids],
    );
    await db().pool.query(
      `insert into underway.task_event (task_id, kind, attempt)
       select id, 'redriven', 1 from unnest($1::bigint[]) id`,
      [ids],
    );
  };

  const existing = async (ids: ReadonlyArray<string>): Promise<string[]> => {
    const { rows } = await db().pool.query<{ id: string }>(
      "select t.id::text as id from underway.task_all t where t.id = any($1::bigint[]) order by t.id",
      [ids],
    );
    return rows.map((row) => row.id);
  };

  const historyOf = async (ids: ReadonlyArray<string>): Promise<{ attempts: number; events: number }> => {
    const { rows } = await db().pool.query<{ attempts: number; events: number }>(
      `select (select count(*) from underway.task_attempt where task_id = any($1::bigint[]))::int as attempts,
              (select count(*) from underway.task_event where task_id = any($1::bigint[]))::int as events`,
      [ids],
    );
    return rows[0] ?? { attempts: -1, events: -1 };
  };

  const countIn = async (queue: string): Promise<number> => {
    const { rows } = await db().pool.query<{ n: number }>(
      "select count(*)::int as n from underway.task_all where queue_name = $1",
      [queue],
    );
    return rows[0]?.n ?? -1;
  };

  it("deletes expired finished tasks with their history; pending, running and unexpired tasks stay", async () => {
    const underway = await connect();
    const minute = 60_000;
    const expired = await enqueue(underway, "mixed", 6, minute);
    const [succeeded, failed, cancelled] = [expired.slice(0, 2), expired.slice(2, 4), expired.slice(4)];
    await setState(succeeded, "succeeded", "1 hour");
    await setState(failed, "failed", "1 hour");
    await setState(cancelled, "cancelled", "1 hour");
    const fresh = await enqueue(underway, "mixed", 3, 24 * 60 * minute);
    await setState(fresh, "succeeded", "1 hour");
    // The seed's sweep deleted these: old, with a tiny ttl, even with a
    // finished_at that a finished state would have. Their state alone keeps them.
    const pending = await enqueue(underway, "mixed", 2, 1);
    await setState(pending, "pending", "1 hour");
    const running = await enqueue(underway, "mixed", 2, 1);
    await setState(running, "in_progress", "1 hour");
    const unfinished = await enqueue(underway, "mixed", 1, 1);
    await setState(unfinished, "succeeded", null);
    const kept = [...fresh, ...pending, ...running, ...unfinished];
    await addHistory([...expired, ...kept]);

    assert.equal(await sweepExpired(underway), expired.length);
    assert.deepEqual(await existing(expired), []);
    assert.deepEqual(
      await existing(kept),
      [...kept].sort((a, b) => Number(a) - Number(b)),
    );
    assert.deepEqual(await historyOf(expired), { attempts: 0, events: 0 });
    assert.deepEqual(await historyOf(kept), { attempts: kept.length, events: kept.length });
    assert.equal(await sweepExpired(underway), 0);
  });

  it("expires tasks a worker finished, once their ttl has passed since they finished", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "worked", input: Input, options: { ttlMs: 1_500 } }));
    const worker = job.start(async () => null, { pollIntervalMs: 50 });
    try {
      const ids = await job.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
      for (const id of ids) assert.equal((await job.outcome(id))._tag, "succeeded");
      assert.equal(await sweepExpired(underway), 0, "not expired yet");
      await eventually(async () => {
        await sweepExpired(underway);
        return (await existing(ids)).length === 0;
      });
    } finally {
      await worker.stop();
    }
  });

  it("deletes in batches of batchSize", async () => {
    const underway = await connect();
    const ids = await enqueue(underway, "batches", 25, 1);
    await setState(ids, "succeeded", "1 minute");
    const one = await depsOf(underway).store.tasksDeleteExpired(underway.pool, { limit: 10 })();
    assert.ok(E.isRight(one));
    assert.equal(one.right.length, 10);
    assert.equal(await sweepExpired(underway, { batchSize: 10 }), 15);
    assert.equal(await countIn("batches"), 0);
    await assert.rejects(sweepExpired(underway, { batchSize: 0 }), ConfigError);
  });

  it("never waits on a row another transaction holds", async () => {
    const underway = await connect();
    const ids = await enqueue(underway, "locked", 5, 1);
    await setState(ids, "succeeded", "1 minute");
    const held = ids[0] ?? "";
    const client = await db().pool.connect();
    try {
      await client.query("begin");
      await client.query("select 1 from underway.task_finished where id = $1 for update", [held]);
      const started = Date.now();
      assert.equal(await sweepExpired(underway, { batchSize: 2 }), 4);
      assert.ok(Date.now() - started < 2_000, "did not wait for the lock");
      assert.deepEqual(await existing(ids), [held]);
      await client.query("commit");
    } finally {
      client.release();
    }
    assert.equal(await sweepExpired(underway), 1);
  });

  it("sweepers in several clients at once share the work without errors", async () => {
    const logger = recordingLogger();
    const clients = await Promise.all([1, 2, 3].map(() => connect({ logger })));
    const first = clients[0] as Underway;
    const ids = await enqueue(first, "crowd", 3_000, 1);
    await setState(ids, "succeeded", "1 minute");
    const periodic = clients.map((client) => startRetention(client, { intervalMs: 10, batchSize: 40 }));
    const counts = await Promise.all(clients.map((client) => sweepExpired(client, { batchSize: 50 })));
    await eventually(async () => (await countIn("crowd")) === 0, 15_000, "all expired tasks deleted");
    await Promise.all(periodic.map((run) => run.stop()));
    assert.ok(counts.reduce((a, b) => a + b, 0) <= ids.length);
    assert.deepEqual(
      logger.lines.filter((line) => line.level !== "info"),
      [],
    );
  });

  it("startRetention sweeps every interval until stopped; close() stops it too", async () => {
    const underway = await connect();
    const retention = startRetention(underway, { intervalMs: 50 });
    const first = await enqueue(underway, "periodic", 3, 1);
    await setState(first, "failed", "1 minute");
    await eventually(async () => (await existing(first)).length === 0, 5_000, "the periodic sweep");
    await retention.stop();
    const second = await enqueue(underway, "periodic", 3, 1);
    await setState(second, "failed", "1 minute");
    await new Promise((done) => setTimeout(done, 300));
    assert.equal((await existing(second)).length, 3, "a stopped sweeper sweeps no more");

    const other = await connect();
    startRetention(other, { intervalMs: 50 });
    await eventually(async () => (await existing(second)).length === 0, 5_000, "the other client's sweep");
    await other.close();
    assert.throws(() => startRetention(other), /closed/);
    assert.throws(() => startRetention(underway, { intervalMs: 0 }), ConfigError);
  });
});
