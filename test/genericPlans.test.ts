// The worker's batch statements run as prepared statements, which switch to
// a generic plan after five executions: that plan must stay linear in the
// batch. Each statement is planned generically (plan_cache_mode =
// force_generic_plan) and run under EXPLAIN ANALYZE on a batch of 300 in a
// table of 5,000 tasks; no node may remove more than twice the batch by a
// filter or return more than four times the batch over its loops (a nested
// loop rescanning the batch per row found did 300 x 300), and task is never read
// by a sequential scan.
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
    const client = await db.pool.connect();
    try {
      await fillTasks(client, "underway", 5000, batch);
    } finally {
      client.release();
    }
  });
  after(async () => {
    await db.drop();
  });

  for (const c of hotPathCases)
    it(`${c.name}'s generic plan is linear in a batch of ${batch}, with no sequential scan of task`, async () => {
      const client = await db.pool.connect();
      try {
        // The probes before this one left dead row versions (each ran, then
        // rolled back), and their index entries stay until a vacuum: a plan
        // read after an autovacuum (early when the server is quiet) and one
        // read before it (late when it is busy) saw different row counts.
        await client.query("vacuum underway.task");
        const { json, text } = await explainGeneric(
          client,
          readQueries("underway")[c.name],
          c.args(batch),
          "generic",
        );
        const s = summarise(json, "task");
        assert.ok(s.mostRemoved <= 2 * batch, `${s.mostRemoved} rows removed by a filter:\n${text}`);
        assert.ok(s.mostRows <= 4 * batch, `a node returned ${s.mostRows} rows over its loops:\n${text}`);
        assert.equal(s.seqScan, false, `task read by a sequential scan:\n${text}`);
      } finally {
        client.release();
      }
    });
});
