// The worker's batch statements run as prepared statements, which switch to
// a generic plan after five executions: that plan must stay linear in the
// batch. Each statement is planned generically (plan_cache_mode =
// force_generic_plan) and run under EXPLAIN ANALYZE on a batch of 300 in a
// table of 5,000 tasks; no node may remove more than twice the batch by a
// filter or return more than four times the batch over its loops (a nested
// loop rescanning the batch per row found did 300 x 300), and task is never read
// by a sequential scan. The same holds for the statements they run inside
// functions and triggers (the claim's are task_claim's, migration 0022, which
// keeps generic plans for them), read by auto_explain.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { migrate } from "../src/index.ts";
import { readQueries } from "../src/sql.ts";
import { explainGeneric, fillTasks, hotPathCases, summarise } from "./support/hotPathPlans.ts";
import { testDatabase, type TestDatabase } from "./support/testDatabase.ts";

const batch = 300;

describe("generic plans of the batch statements", () => {
  let db: TestDatabase;
  before(async () => {
    db = await testDatabase("generic_plans");
    await migrate(db.pool);
  });
  after(async () => {
    await db.drop();
  });

  for (const c of hotPathCases)
    it(`${c.name}'s generic plan is linear in a batch of ${batch}, with no sequential scan of task`, async () => {
      const client = await db.pool.connect();
      try {
        // A fresh table per case: the rolled-back runs of earlier cases leave
        // dead index entries that a bitmap scan of the primary key returns
        // too (1,500 entries for 300 ids seen), which is not the plan's doing.
        await fillTasks(client, "underway", 5000, batch);
        const { json, text, nested } = await explainGeneric(
          client,
          readQueries("underway")[c.name],
          c.args(batch),
          "generic",
        );
        for (const [plan, shown] of [
          [json, text] as const,
          ...nested.map((n) => [n, `${n["Query Text"]}\n${JSON.stringify(n.Plan, null, 1)}`] as const),
        ]) {
          const s = summarise(plan, "task");
          assert.ok(s.mostRemoved <= 2 * batch, `${s.mostRemoved} rows removed by a filter:\n${shown}`);
          assert.ok(s.mostRows <= 4 * batch, `a node returned ${s.mostRows} rows over its loops:\n${shown}`);
          assert.equal(s.seqScan, false, `task read by a sequential scan:\n${shown}`);
        }
        if (c.name === "tasksClaim" || c.name === "tasksCompleteAndClaim")
          assert.ok(
            nested.some((n) => n["Query Text"].includes('update "underway".task t')),
            "the claim's update is among the statements read",
          );
      } finally {
        client.release();
      }
    });
});
