// An idle worker's claim as one prepared statement (tasksClaimPlain): for a
// queue without flow control it claims exactly what task_claim claims, and
// for a queue with some (a pause, a rate limit, grouped tasks) it claims
// nothing and says so, and the worker then claims through task_claim
// (src/worker/claim.ts; docs/design/claim-function.md, "The plain
// statement").
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import pg from "pg";
import { defineJob } from "../src/index.ts";
import type { ClaimedRow } from "../src/db/claimQueries.ts";
import { storeOf } from "../src/db/store.ts";
import { readQueries } from "../src/sql.ts";
import { eventually, useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });

// What a claim decides about each task; the clock-bound columns (waitMs)
// differ between two runs by design.
const decided = (rows: ReadonlyArray<ClaimedRow>) =>
  rows.map((row) => ({
    id: row.id,
    attempt: row.attempt,
    admitted: row.admitted,
    rateLimited: row.rateLimited,
    concurrencyKey: row.concurrencyKey,
    priority: row.priority,
    input: row.input,
  }));

describe("the plain claim statement", () => {
  const { db, connect } = useDatabase("claim_plain");
  const store = storeOf({
    schema: "underway",
    queries: readQueries("underway"),
    preparedStatements: true,
    onCollision: () => undefined,
  });

  const right = <A>(result: { _tag: "Left"; left: unknown } | { _tag: "Right"; right: A }): A => {
    if (result._tag === "Left") throw result.left;
    return result.right;
  };

  // Runs `claim` in a transaction rolled back after, so both statements
  // see the same tasks.
  const inRollback = async <A>(claim: (client: pg.PoolClient) => Promise<A>): Promise<A> => {
    const client = await db().pool.connect();
    try {
      await client.query("begin");
      return await claim(client);
    } finally {
      await client.query("rollback");
      client.release();
    }
  };

  it("claims the same tasks as task_claim, in the same order, with the same decisions", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "same", input: N }));
    // Keys at and under their limit, priorities, a delayed task, a task
    // past its start deadline, a running task holding a key's slot.
    for (const n of [1, 2, 3, 4])
      await job.enqueue({ n }, { concurrencyKey: "k", concurrencyLimit: 2, priority: n % 2 });
    for (const n of [5, 6]) await job.enqueue({ n }, { priority: n });
    await job.enqueue({ n: 7 }, { delayMs: 60_000 });
    const late = await job.enqueue({ n: 8 }, { startWithinMs: 60_000 });
    await db().pool.query(`update underway.task set start_by = now() - interval '1 second' where id = $1`, [
      late,
    ]);
    await job.enqueue({ n: 9 }, { concurrencyKey: "full", concurrencyLimit: 1 });
    await job.enqueue({ n: 10 }, { concurrencyKey: "full", concurrencyLimit: 1 });
    right(await store.tasksClaim(db().pool, { queue: "same", limit: 1, workerId: "holder" })());

    for (const [limit, startable] of [
      [10, 10],
      [10, 1],
      [3, 3],
      [1, 1],
    ] as const) {
      const params = { queue: "same", limit, workerId: "w", startable };
      const plain = await inRollback(async (client) => right(await store.tasksClaimPlain(client, params)()));
      const viaFunction = await inRollback(async (client) => right(await store.tasksClaim(client, params)()));
      assert.ok(plain.plain, `limit ${limit}: a queue without flow control is claimed by the statement`);
      assert.ok(viaFunction.length > 0, `limit ${limit}: something to claim`);
      assert.deepEqual(decided(plain.rows), decided(viaFunction), `limit ${limit}, startable ${startable}`);
    }
  });

  it("an empty queue gives no task and no status row as a task", async () => {
    await connect();
    const result = right(
      await store.tasksClaimPlain(db().pool, {
        queue: "nothing_here",
        limit: 10,
        workerId: "w",
        startable: 10,
      })(),
    );
    assert.deepEqual(result, { plain: true, rows: [] });
  });

  it("claims nothing and says so for a paused queue, a rate-limited one, or one with grouped tasks pending", async () => {
    const underway = await connect();
    const paused = underway.job(defineJob({ queue: "flow_paused", input: N }));
    await paused.enqueue({ n: 1 });
    await underway.pauseQueue("flow_paused");
    const limited = underway.job(defineJob({ queue: "flow_limited", input: N }));
    await limited.enqueue({ n: 1 });
    await underway.ops.setRateLimit("flow_limited", { limit: 100, periodMs: 1_000 });
    // One grouped task among plain ones: the groups' turns must choose.
    const grouped = underway.job(defineJob({ queue: "flow_grouped", input: N }));
    await grouped.enqueue({ n: 1 });
    await grouped.enqueue({ n: 2 }, { group: "tenant" });
    for (const queue of ["flow_paused", "flow_limited", "flow_grouped"]) {
      const result = right(
        await store.tasksClaimPlain(db().pool, { queue, limit: 10, workerId: "w", startable: 10 })(),
      );
      assert.deepEqual(result, { plain: false }, queue);
      const { rows } = await db().pool.query<{ n: string }>(
        `select count(*) as n from underway.task where queue_name = $1 and state = 'pending'`,
        [queue],
      );
      assert.equal(Number(rows[0]?.n), queue === "flow_grouped" ? 2 : 1, `${queue}: nothing claimed`);
    }
  });

  it("a worker claims a plain queue by the statement, turns to task_claim when grouped tasks arrive, and runs them", async () => {
    const underway = await connect();
    const names: string[] = [];
    // The worker's pool, watched: which claim statement each claim sent.
    const query = db().pool.query.bind(db().pool) as (config: unknown, values?: unknown) => Promise<unknown>;
    const watched = db().pool as unknown as {
      query: (config: unknown, values?: unknown) => Promise<unknown>;
    };
    watched.query = (config, values) => {
      const name = (config as { name?: string } | null)?.name;
      if (typeof name === "string" && name.includes("tasksClaim")) names.push(name.split(".").pop() ?? name);
      return query(config, values);
    };
    const job = underway.job(defineJob({ queue: "turns", input: N }));
    const ran: number[] = [];
    const worker = job.start(async ({ n }) => {
      ran.push(n);
      return null;
    });
    try {
      await job.enqueue({ n: 1 });
      await eventually(async () => ran.includes(1), 10_000, "the plain task ran");
      assert.ok(names.includes("tasksClaimPlain"), `claims sent: ${names.join(", ")}`);
      assert.ok(!names.includes("tasksClaim"), `no claim through the function yet: ${names.join(", ")}`);
      // Idle again (its completion written, its wake-up registered), so
      // the grouped tasks are claimed by a lone claim, not by a completion's.
      await eventually(
        async () => {
          const { rows } = await db().pool.query(
            `select 1 from underway.queue_waiter where queue_name = 'turns'
            union all select 1 from underway.task_finished where queue_name = 'turns'`,
          );
          return rows.length === 2;
        },
        10_000,
        "the worker idle",
      );
      await job.enqueue({ n: 2 }, { group: "a" });
      await job.enqueue({ n: 3 }, { group: "b" });
      await eventually(async () => ran.includes(2) && ran.includes(3), 10_000, "the grouped tasks ran");
      assert.ok(names.includes("tasksClaim"), `the function claimed the grouped tasks: ${names.join(", ")}`);
    } finally {
      await worker.stop();
      watched.query = query;
    }
  });
});
