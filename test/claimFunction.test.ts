// The claim as a function, task_claim (migration 0022;
// docs/design/claim-function.md): planned once per session with a generic
// plan and no JIT whatever the session's settings, and the snapshot its
// statements read: after the completions of tasksCompleteAndClaim, so a key
// they free may be taken by the same statement, and never past its limit,
// whatever the number of statements racing for it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import pg from "pg";
import { defineJob } from "../src/index.ts";
import type { ClaimedRow } from "../src/db/claimQueries.ts";
import { storeOf } from "../src/db/store.ts";
import { readQueries } from "../src/sql.ts";
import { useDatabase } from "./support/harness.ts";
import { logNestedPlans, nestedOf, type PlanNode } from "./support/hotPathPlans.ts";

const N = t.type({ n: t.number });

describe("the claim function", () => {
  const { db, connect } = useDatabase("claim_function");
  const store = storeOf({
    schema: "underway",
    queries: readQueries("underway"),
    preparedStatements: true,
    onCollision: () => undefined,
  });

  const claimed = <A>(result: { _tag: "Left"; left: unknown } | { _tag: "Right"; right: A }): A => {
    if (result._tag === "Left") throw result.left;
    return result.right;
  };

  it("a key freed by a completion is taken by the claim of the same statement, within its limit", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "freed", input: N }));
    for (const n of [1, 2, 3])
      await job.enqueue({ n }, { concurrencyKey: "k", concurrencyLimit: 1, priority: -n });
    const first = claimed(await store.tasksClaim(db().pool, { queue: "freed", limit: 5, workerId: "w" })());
    assert.deepEqual(
      first.map((row) => [row.admitted, row.concurrencyKey]),
      [[true, "k"]],
      "one task of the key, started",
    );
    const task = first[0] as ClaimedRow;
    const both = claimed(
      await store.tasksCompleteAndClaim(db().pool, {
        ids: [task.id],
        attempts: [task.attempt],
        outputs: [null],
        queue: "freed",
        limit: 5,
        workerId: "w",
        startable: 5,
      })(),
    );
    assert.deepEqual(both.completed, [task.id]);
    // Before migration 0022 the claim read the statement's snapshot, which
    // still saw the completed task in progress: it took nothing.
    assert.deepEqual(
      both.claimed.map((row) => [row.admitted, row.concurrencyKey]),
      [[true, "k"]],
      "the next task of the key, started, and only one",
    );
    const { rows } = await db().pool.query<{ n: number }>(
      `select count(*)::int as n from underway.task
        where queue_name = 'freed' and state = 'in_progress' and started_at is not null`,
    );
    assert.equal(rows[0]?.n, 1);
  });

  it("statements completing and claiming a key's tasks at once never run it past its limit", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "racing", input: N }));
    const limit = 2;
    await job.enqueueMany(
      Array.from({ length: 300 }, (_, n) => ({ n })),
      { concurrencyKey: "k", concurrencyLimit: limit },
    );
    // Unkeyed tasks beside them, so that claims are never empty for want of the key.
    await job.enqueueMany(Array.from({ length: 300 }, (_, n) => ({ n })));
    const pool = db().pool;
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await pool.query<{ n: number }>(
          `select count(*)::int as n from underway.task
            where queue_name = 'racing' and concurrency_key = 'k' and state = 'in_progress' and started_at is not null`,
        );
        most = Math.max(most, rows[0]?.n ?? 0);
      }
    })();
    // Each worker completes what it holds and claims again in one statement,
    // until the queue is empty; one that claimed nothing (the key full, the
    // rest locked) tries again.
    const worker = async (name: string): Promise<number> => {
      let held: ReadonlyArray<ClaimedRow> = [];
      let done = 0;
      for (let round = 0; round < 5_000; round++) {
        assert.ok(
          held.every((row) => row.admitted),
          "a claim of startable tasks starts each one it returns",
        );
        const both = claimed(
          await store.tasksCompleteAndClaim(pool, {
            ids: held.map((row) => row.id),
            attempts: held.map((row) => row.attempt),
            outputs: held.map(() => null),
            queue: "racing",
            limit: 3,
            workerId: name,
            startable: 3,
          })(),
        );
        done += both.completed.length;
        held = both.claimed;
        if (held.length > 0) continue;
        const { rows } = await pool.query<{ left: boolean }>(
          "select exists (select from underway.task where queue_name = 'racing') as left",
        );
        if (rows[0]?.left !== true) break;
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      return done;
    };
    const done = await Promise.all(["a", "b", "c", "d", "e", "f"].map(worker));
    sampling = false;
    await sampler;
    const { rows } = await pool.query<{ n: number }>(
      "select count(*)::int as n from underway.task_finished where queue_name = 'racing' and state = 'succeeded'",
    );
    assert.equal(rows[0]?.n, 600, `every task ran once (${done.join(", ")} per worker)`);
    assert.ok(most <= limit, `${most} tasks of the key ran at once, past its limit of ${limit}`);
    assert.ok(most === limit, `the key ran at most ${most} at once: the race did not reach its limit`);
  });

  it("keeps a generic plan without JIT for its statements, whatever the session's settings", async () => {
    const underway = await connect();
    await underway.job(defineJob({ queue: "planned", input: N })).enqueueMany([{ n: 1 }, { n: 2 }]);
    // A session of its own, whose first claim plans task_claim's statements,
    // with what a session might set: custom plans, and JIT for any plan.
    const client = new pg.Client({
      connectionString: db().url,
      options: "-c plan_cache_mode=force_custom_plan -c jit_above_cost=0",
    });
    await client.connect();
    const notices: string[] = [];
    client.on("notice", (notice) => notices.push(notice.message ?? ""));
    try {
      await client.query("begin");
      await logNestedPlans(client);
      const { rows } = await client.query("select * from underway.task_claim('planned', 1, 'w', 1)");
      assert.equal(rows.length, 1);
      await client.query("rollback");
    } finally {
      await client.end();
    }
    const update = nestedOf(notices).find((plan) => plan["Query Text"].includes('update "underway".task t'));
    assert.ok(update !== undefined, "auto_explain showed the claim's update");
    const nodes = (node: PlanNode): ReadonlyArray<PlanNode> => [node, ...(node.Plans ?? []).flatMap(nodes)];
    const conds = nodes(update.Plan)
      .map((node) => (node as PlanNode & { readonly "Index Cond"?: string })["Index Cond"] ?? "")
      .join(" ");
    // A generic plan compares with the function's parameters ($1), a
    // custom one with their values ('planned').
    assert.match(conds, /queue_name = \$1/, `a generic plan: ${conds}`);
    assert.ok(!JSON.stringify(update).includes('"JIT"'), "no JIT in the claim's plan");
  });
});
