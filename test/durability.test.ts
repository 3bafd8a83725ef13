// Which commits wait for the WAL flush (docs/reliability.md, "Commits that do
// not wait for the disk"): an acknowledged enqueue is durable; a claim, a
// completion or a lease renewal commits without waiting, since losing one
// in a server crash only makes a task run again. Each statement is run here
// inside an open transaction, where the setting it leaves can be read.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import type pg from "pg";
import { defineJob } from "../src/index.ts";
import { readQueries, readQueryText } from "../src/sql.ts";
import { queryNames } from "../src/db/queryNames.ts";
import { storeOf, type Store } from "../src/db/store.ts";
import { useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });

const asyncQueries = [
  "tasksClaim",
  // An idle worker's claim as one statement (its gate sets it first).
  "tasksClaimPlain",
  "tasksComplete",
  "tasksCompleteAndClaim",
  "tasksCompleteAndContinue",
  // A step's end with its fan-out: lost in a crash, the step's success and
  // its children are lost together, and the step runs again.
  "tasksCompleteAndFanOut",
  "tasksHeartbeat",
  // A prefetched keyed task's start, and giving an unstarted task back: lost
  // in a crash, the task stays claimed until its lease runs out.
  "tasksRelease",
  "tasksStart",
];

/** `synchronous_commit` as left by `work`, inside a transaction rolled back afterwards. */
const settingAfter = async (pool: pg.Pool, work: (client: pg.PoolClient) => Promise<unknown>) => {
  const client = await pool.connect();
  try {
    await client.query("begin");
    await work(client);
    const { rows } = await client.query<{ synchronous_commit: string }>("show synchronous_commit");
    return rows[0]?.synchronous_commit;
  } finally {
    await client.query("rollback");
    client.release();
  }
};

/** One task's success, without output. */
const successOf = (row: { readonly id: string; readonly attempt: number }) => ({
  ids: [row.id],
  attempts: [row.attempt],
  outputs: [null],
});

/** A claim of up to `limit` tasks of `queue`, all startable. */
const claimOf = (queue: string, limit: number) => ({
  queue,
  limit,
  workerId: "test-worker",
  startable: limit,
});

/** The statements of schema underway, run as named statements. */
const namedStore = (): Store =>
  storeOf({
    schema: "underway",
    queries: readQueries("underway"),
    preparedStatements: true,
    onCollision: () => undefined,
  });

describe("durability of each write", () => {
  const { db, connect } = useDatabase("durability");

  it("enqueues wait for the WAL flush; claims, completions and renewals do not", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "durable", input: N }));
    const store = namedStore();
    const pool = db().pool;

    assert.equal(await settingAfter(pool, (client) => job.enqueue({ n: 1 }, { client })), "on");
    assert.equal(
      await settingAfter(pool, (client) => job.enqueueMany([{ n: 2 }, { n: 3 }], { client })),
      "on",
    );

    await job.enqueueMany([{ n: 4 }, { n: 5 }]);
    const claimed = await settingAfter(pool, async (client) => {
      const rows = await store.tasksClaim(client, { queue: "durable", limit: 1, workerId: "test-worker" })();
      assert.ok(rows._tag === "Right" && rows.right.length === 1, "claimed one task");
      const row = rows.right[0];
      if (row === undefined) return;
      const renewed = await store.tasksHeartbeat(client, { ids: [row.id], attempts: [row.attempt] })();
      assert.equal(renewed._tag === "Right" && renewed.right.length, 1);
      const both = await store.tasksCompleteAndClaim(client, {
        ...successOf(row),
        ...claimOf("durable", 5),
      })();
      assert.ok(both._tag === "Right");
      assert.deepEqual(both.right.completed, [row.id]);
      assert.ok(both.right.claimed.length >= 1, "claimed along with the completion");
    });
    assert.equal(claimed, "off");

    const completedAlone = await settingAfter(pool, async (client) => {
      const rows = await store.tasksClaim(client, { queue: "durable", limit: 1, workerId: "test-worker" })();
      const row = rows._tag === "Right" ? rows.right[0] : undefined;
      assert.ok(row !== undefined);
      // The claim set it; a fresh transaction shows the completion sets it too.
      await client.query("commit");
      await client.query("begin");
      const written = await store.tasksComplete(client, {
        ids: [row.id],
        attempts: [row.attempt],
        outputs: [null],
      })();
      assert.deepEqual(written._tag === "Right" && written.right, [row.id]);
    });
    assert.equal(completedAlone, "off");

    // The idle worker's statement, whether it claims or finds nothing.
    for (const queue of ["durable", "durable_empty"]) {
      const plain = await settingAfter(pool, async (client) => {
        const result = await store.tasksClaimPlain(client, claimOf(queue, 1))();
        assert.ok(result._tag === "Right" && result.right.plain, `${queue}: claimed by the plain statement`);
        assert.equal(result.right.rows.length, queue === "durable" ? 1 : 0, queue);
      });
      assert.equal(plain, "off", queue);
    }
  });

  // Rows become camelCase once, where the query returns (claimedRowOf):
  // the claim and the completion that claims (whose rows travel as JSON)
  // must bring back the same fields, none left undefined by a missed column.
  it("tasksClaim and tasksCompleteAndClaim bring back the same camelCase rows, and heartbeats cancelRequested", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "camel", input: N }));
    const store = namedStore();
    await job.enqueue({ n: 1 }, { concurrencyKey: "k", concurrencyLimit: 2, priority: 1 });
    await job.enqueue({ n: 2 }, { concurrencyKey: "k", concurrencyLimit: 2 });
    const fields = [
      "admitted",
      "attempt",
      "attemptBudget",
      "concurrencyKey",
      "concurrencyLimit",
      "dlqFrom",
      "heartbeatMs",
      "id",
      "input",
      "jobId",
      "maxAttempts",
      "priority",
      "rateLimited",
      "retryCoefficient",
      "retryInitialMs",
      "retryJitter",
      "retryMaxMs",
      "snoozes",
      "stepIndex",
      "timeoutMs",
      "traceContext",
      "waitMs",
    ];
    const client = await db().pool.connect();
    try {
      await client.query("begin");
      const claimed = await store.tasksClaim(client, { queue: "camel", limit: 1, workerId: "w" })();
      const first = claimed._tag === "Right" ? claimed.right[0] : undefined;
      assert.ok(first !== undefined, "claimed one");
      const renewed = await store.tasksHeartbeat(client, { ids: [first.id], attempts: [first.attempt] })();
      assert.deepEqual(renewed._tag === "Right" && renewed.right, [
        { id: first.id, cancelRequested: false, renewed: true },
      ]);
      const both = await store.tasksCompleteAndClaim(client, {
        ...successOf(first),
        ...claimOf("camel", 1),
      })();
      const second = both._tag === "Right" ? both.right.claimed[0] : undefined;
      assert.ok(second !== undefined, "claimed the other");
      for (const row of [first, second]) {
        assert.deepEqual(Object.keys(row).sort(), fields);
        assert.deepEqual(
          fields.filter((field) => row[field as keyof typeof row] === undefined),
          [],
          "fields left undefined",
        );
        assert.deepEqual(
          [
            row.maxAttempts,
            row.heartbeatMs,
            row.concurrencyKey,
            row.concurrencyLimit,
            row.admitted,
            row.jobId,
          ],
          [5, 30000, "k", 2, true, null],
        );
      }
      assert.deepEqual([first.priority, second.priority], [1, 0]);
    } finally {
      await client.query("rollback");
      client.release();
    }
  });

  it("only the statements whose loss reruns a task commit without waiting", () => {
    // As loaded: the preamble is a fragment (db/fragments/commitAsync.sql);
    // the claim's is in task_claim (migration 0022), which the test above runs.
    const setting = queryNames
      .filter((name) => {
        const text = readQueryText(name).text;
        return text.includes("'synchronous_commit'") || text.includes(".task_claim(");
      })
      .sort();
    assert.deepEqual(setting, [...asyncQueries].sort());
  });

  // Since migration 0014 a final state is an insert into task_finished, and
  // its outcome trigger is a statement trigger (one call per statement,
  // whether anyone listens or not: it looks once); underway.unheard, which
  // let a completion skip 0012's row trigger, is gone.
  it("a completion calls the outcome trigger once per statement, not per row, and the retry trigger not at all", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "unheard", input: N }));
    const store = namedStore();
    await job.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const client = await db().pool.connect();
    // Calls of the outcome triggers' functions made by one completion of
    // three tasks, counted within its transaction (rolled back, so nothing
    // is left behind).
    const triggerCalls = async (listening: boolean): Promise<ReadonlyArray<number>> => {
      await client.query("begin");
      try {
        await client.query("set local track_functions = 'pl'");
        if (listening)
          await client.query(
            "insert into underway.outcome_listener (listener_id, expires_at) values ('probe', now() + interval '1 minute')",
          );
        // Function counters of rolled-back transactions may still be pending
        // in this backend: what counts is what the completion adds.
        const counted = async (): Promise<ReadonlyArray<number>> => {
          const { rows: calls } = await client.query<{ finished: string; changed: string }>(
            `select coalesce(pg_stat_get_xact_function_calls('underway.task_finished_inserted'::regproc), 0) as finished,
                    coalesce(pg_stat_get_xact_function_calls('underway.task_changed'::regproc), 0) as changed`,
          );
          return [Number(calls[0]?.finished), Number(calls[0]?.changed)];
        };
        const rows = await store.tasksClaim(client, { queue: "unheard", limit: 3, workerId: "probe" })();
        assert.ok(rows._tag === "Right" && rows.right.length === 3, "claimed three tasks");
        const before = await counted();
        const written = await store.tasksComplete(client, {
          ids: rows.right.map((row) => row.id),
          attempts: rows.right.map((row) => row.attempt),
          outputs: [null, null, null],
        })();
        assert.equal(written._tag === "Right" && written.right.length, 3);
        const after = await counted();
        return after.map((calls, i) => calls - (before[i] ?? 0));
      } finally {
        await client.query("rollback");
      }
    };
    try {
      assert.deepEqual(await triggerCalls(false), [1, 0]);
      assert.deepEqual(await triggerCalls(true), [1, 0]);
    } finally {
      client.release();
    }
  });
});
