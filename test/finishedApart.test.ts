import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob, FatalError, migrate, silentLogger, Underway } from "../src/index.ts";
import { allMigrations } from "../src/migrate.ts";
import { eventually, useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });

// The columns every task row is compared on, before and after the move.
const columns =
  "id::text, queue_name, state::text, input, output, error, attempt, max_attempts, unique_key, dlq_from, " +
  "worker_id, run_at, created_at, started_at, finished_at, lease_expires_at, cancel_requested_at";

/**
 * Migration 0014 (docs/design/storage-v2.md): live tasks in `task`,
 * finished ones in `task_finished`.
 */
describe("live tasks apart from finished ones", () => {
  const { db, connect } = useDatabase("finished_apart");

  it("carries a schema's tasks and attempts over: ops reads them as before, and the worker goes on", async () => {
    const schema = "carry";
    const pool = db().pool;
    // The schema as the previous version left it: migrations up to 0013.
    const before = allMigrations(schema).filter((migration) => migration.version <= 13);
    await pool.query(`begin;\n${before.map((migration) => migration.sql).join("\n")}\ncommit;`);
    await pool.query(
      `insert into carry.queue (name, dlq_name) values ('carry', 'carry_dlq'), ('carry_dlq', null)`,
    );
    const insert = `insert into carry.task (queue_name, state, input, output, error, attempt, max_attempts,
        retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter, timeout_ms, heartbeat_ms, ttl_ms,
        unique_key, dlq_from, worker_id, started_at, finished_at, lease_expires_at)
      values ($1, $2::carry.task_state, $3::jsonb, $4::jsonb, $5, $6, 3, 10, 20, 2, 0, 60000, 30000, 86400000,
              $7, $8, $9, $10::timestamptz, $11::timestamptz, $12::timestamptz)
      returning id::text`;
    const add = async (...values: unknown[]): Promise<string> =>
      (await pool.query<{ id: string }>(insert, values)).rows[0]!.id;
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const pending = await add(
      "carry",
      "pending",
      '{"n":1}',
      null,
      null,
      0,
      "u1",
      null,
      null,
      null,
      null,
      null,
    );
    const retrying = await add(
      "carry",
      "pending",
      '{"n":2}',
      null,
      "boom",
      1,
      null,
      null,
      null,
      null,
      null,
      null,
    );
    const running = await add(
      "carry",
      "in_progress",
      '{"n":3}',
      null,
      null,
      1,
      null,
      null,
      "w1",
      hourAgo,
      null,
      new Date(Date.now() + 3_600_000).toISOString(),
    );
    const succeeded = await add(
      "carry",
      "succeeded",
      '{"n":4}',
      '{"ok":4}',
      null,
      1,
      "u1",
      null,
      "w1",
      hourAgo,
      hourAgo,
      null,
    );
    const failed = await add(
      "carry_dlq",
      "failed",
      '{"n":5}',
      null,
      "gave up",
      3,
      null,
      "carry",
      "w1",
      hourAgo,
      hourAgo,
      null,
    );
    const cancelled = await add(
      "carry",
      "cancelled",
      '{"n":6}',
      null,
      "cancelled",
      0,
      null,
      null,
      null,
      null,
      hourAgo,
      null,
    );
    await pool.query(
      `insert into carry.task_attempt (task_id, attempt, state, error, started_at)
       select $1::bigint, a, 'failed', 'try ' || a, now() - interval '2 hours' from generate_series(1, 3) a
       union all select $2::bigint, 1, 'failed', 'boom', now() - interval '2 hours'`,
      [failed, retrying],
    );
    const snapshot = async (table: string) =>
      (await pool.query(`select ${columns} from carry.${table} order by id`)).rows;
    const rows = await snapshot("task");
    const attempts = (await pool.query("select * from carry.task_attempt order by task_id, attempt")).rows;

    const result = await migrate(pool, { schema });
    // 0014 first, then any later migration.
    assert.equal(result.applied[0], "0014_finished_apart");
    // Moved, not copied: every row once, as it was; live ones in task only.
    assert.deepEqual(await snapshot("task_all"), rows);
    assert.deepEqual(
      (await snapshot("task")).map((row: { id: string }) => row.id),
      [pending, retrying, running],
    );
    assert.deepEqual(
      (await snapshot("task_finished")).map((row: { id: string }) => row.id),
      [succeeded, failed, cancelled],
    );
    assert.deepEqual(
      (await pool.query("select * from carry.task_attempt order by task_id, attempt")).rows,
      attempts,
    );

    const underway = await Underway.connect({ pool, schema, logger: silentLogger });
    try {
      const { ops } = underway;
      const detail = await ops.task(succeeded);
      assert.equal(detail?.state, "succeeded");
      assert.deepEqual(detail?.output, { ok: 4 });
      assert.equal(detail?.finishedAt?.toISOString(), new Date(hourAgo).toISOString());
      const dead = await ops.task(failed);
      assert.equal(dead?.state, "failed");
      assert.equal(dead?.error, "gave up");
      assert.equal(dead?.dlqFrom, "carry");
      assert.deepEqual(
        dead?.history.map((entry) => ("error" in entry ? entry.error : undefined)),
        ["try 1", "try 2", "try 3"],
      );
      assert.equal((await ops.task(running))?.state, "in_progress");
      assert.equal((await ops.task(cancelled))?.state, "cancelled");
      const all = await ops.tasks({}, { order: "oldest" });
      assert.deepEqual(
        all.tasks.map((task) => [task.id, task.state]),
        [
          [pending, "pending"],
          [retrying, "pending"],
          [running, "in_progress"],
          [succeeded, "succeeded"],
          [failed, "failed"],
          [cancelled, "cancelled"],
        ],
      );
      const byPair = await ops.tasks({ queue: ["carry", "carry_dlq"], state: ["succeeded", "failed"] });
      assert.deepEqual(
        byPair.tasks.map((task) => task.id),
        [failed, succeeded],
      );
      const queues = await ops.queues();
      const carry = queues.find((queue) => queue.queue === "carry");
      assert.deepEqual(
        Object.fromEntries(Object.entries(carry?.counts ?? {}).map(([state, count]) => [state, count.count])),
        { pending: 2, in_progress: 1, succeeded: 1, cancelled: 1, failed: 0 },
      );
      assert.equal(carry?.deadLettered.count, 1);

      // The worker goes on: the pending tasks run, the redriven one too,
      // and every finished task ends up in task_finished.
      const job = underway.job(defineJob({ queue: "carry", input: N }));
      const subscription = job.work(async ({ n }) => n, { pollIntervalMs: 50 }).subscribe();
      try {
        assert.equal((await ops.redrive("carry_dlq")).changed, 1);
        await eventually(
          async () => {
            const { rows: left } = await pool.query(
              "select count(*)::int as n from carry.task where id <> $1",
              [running],
            );
            return left[0]?.n === 0;
          },
          10_000,
          "the pending tasks run",
        );
      } finally {
        subscription.unsubscribe();
      }
      for (const id of [pending, retrying, failed]) assert.equal((await ops.task(id))?.state, "succeeded");
      const { rows: live } = await pool.query("select id::text, state::text from carry.task");
      assert.deepEqual(live, [{ id: running, state: "in_progress" }]);
    } finally {
      await underway.close();
    }
  });

  it("keeps finished rows out of task: after a drain it holds none, and task_finished holds them all", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "drained", input: N }));
    await job.enqueueMany(Array.from({ length: 50 }, (_, n) => ({ n })));
    const subscription = job
      .work(
        async ({ n }) => {
          if (n % 10 === 0) throw new FatalError("no");
          return n;
        },
        { pollIntervalMs: 50 },
      )
      .subscribe();
    try {
      await eventually(
        async () => {
          const { rows } = await db().pool.query(
            "select count(*)::int as n from underway.task_finished where queue_name = 'drained'",
          );
          return rows[0]?.n === 50;
        },
        15_000,
        "the drain",
      );
    } finally {
      subscription.unsubscribe();
    }
    const { rows: live } = await db().pool.query(
      "select count(*)::int as n from underway.task where queue_name = 'drained'",
    );
    assert.equal(live[0]?.n, 0);
    const { rows: states } = await db().pool.query(
      "select state::text, count(*)::int as n from underway.task_finished where queue_name = 'drained' group by 1 order by 1",
    );
    assert.deepEqual(states, [
      { state: "failed", n: 5 },
      { state: "succeeded", n: 45 },
    ]);
  });
  // Every later migration that adds a column to task re-creates task_ended
  // with the full list (docs/design/storage-v2.md, "Adding a column to
  // task"): a column left out, or put there as null, is lost from every task
  // that ends. A pending task with every option set must keep each of its
  // values once ended, but for the columns an end writes.
  it("a task that ends keeps every value of its live row but those its end writes (task_ended carries each column)", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "carried", input: N }));
    const id = await job.enqueue(
      { n: 1 },
      {
        uniqueKey: "u",
        concurrencyKey: "k",
        concurrencyLimit: 2,
        rateLimitKey: "r",
        group: "g",
        priority: 3,
        delayMs: 60_000,
        startWithinMs: 120_000,
        ttlMs: 120_000,
        timeoutMs: 5_000,
        heartbeatMs: 4_000,
        retry: {
          maxAttempts: 4,
          initialIntervalMs: 100,
          maxIntervalMs: 1_000,
          backoffCoefficient: 3,
          jitter: 0.5,
        },
      },
    );
    // What enqueue options do not set: a step job's, a redrive's, a tracer's, a rate-limited queue's
    // (a debounced task's key lives in debounce_key, its unique_key null: set here beside it).
    await db().pool.query(
      `update underway.task
          set cancel_requested_at = now(), job_id = '2f1c6c1e-5c36-4e52-9d59-3b1b5f0c9a01', step_index = 2,
              attempt_budget = 7, trace_context = '{"traceparent": "00-x-y-01"}', rate_limited = true,
              debounce_key = 'd', batch_id = 4242
        where id = $1`,
      [id],
    );
    const { rows } = await db().pool.query<{ live: Record<string, unknown>; ended: Record<string, unknown> }>(
      `select to_jsonb(t) as live, to_jsonb(e) as ended
         from underway.task t,
              lateral underway.task_ended(t, 'succeeded', '{"done": true}', null, t.queue_name, null, now()) e
        where t.id = $1`,
      [id],
    );
    const { live, ended } = rows[0] ?? assert.fail("no row");
    assert.deepEqual(Object.keys(ended), Object.keys(live), "task_finished has task's columns, in its order");
    // What a pending task leaves empty, all of it written by a start or an end.
    const emptyWhilePending = [
      "output",
      "error",
      "dlq_from",
      "worker_id",
      "started_at",
      "finished_at",
      "lease_expires_at",
    ];
    const unset = Object.keys(live).filter((column) => live[column] === null);
    assert.deepEqual(
      unset.filter((column) => !emptyWhilePending.includes(column)),
      [],
      "a column this test leaves null proves nothing: set it in the enqueue above",
    );
    const writtenByTheEnd = ["state", "output", "finished_at", "lease_expires_at"];
    const changed = Object.keys(live).filter(
      (column) =>
        !writtenByTheEnd.includes(column) && JSON.stringify(ended[column]) !== JSON.stringify(live[column]),
    );
    assert.deepEqual(changed, [], "columns whose value task_ended did not carry over");
    assert.equal(ended["state"], "succeeded");
    assert.deepEqual(ended["output"], { done: true });
  });
});
