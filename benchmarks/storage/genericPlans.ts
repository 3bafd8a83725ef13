/**
 * The plans of the worker's batch statements, generic (as a prepared
 * statement runs them after five executions) and custom (planned for their
 * parameters, as unnamed statements are), on a migrated schema holding
 * `--tasks` pending tasks of which a batch is in progress:
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/plans_x \
 *     npx tsx benchmarks/storage/genericPlans.ts [--tasks 20000] [--batches 1,10,500] [--plans]
 *
 * Every statement runs under EXPLAIN (ANALYZE, BUFFERS) in a transaction
 * that is rolled back, so each sees the same rows. Prints, per statement,
 * plan mode and batch size: the buffers hit, the execution time, the most
 * rows any node removed by a filter (over all its loops), the most rows any
 * node produced (over all its loops), and whether `task` was scanned
 * sequentially. `--plans` prints the text plans too.
 */
import { parseArgs } from "node:util";
import pg from "pg";
import { migrate } from "../../src/migrate.ts";
import { readQueries } from "../../src/sql.ts";
import {
  explainGeneric,
  fillTasks,
  hotPathCases,
  summarise,
  type Mode,
} from "../../test/support/hotPathPlans.ts";

const { values } = parseArgs({
  options: {
    tasks: { type: "string", default: "20000" },
    batches: { type: "string", default: "1,10,500" },
    plans: { type: "boolean", default: false },
  },
});
const url = process.env["DATABASE_URL"];
if (url === undefined) throw new Error("set DATABASE_URL to a scratch database");
const pool = new pg.Pool({ connectionString: url, max: 1 });
await migrate(pool, { schema: "underway" });
const client = await pool.connect();
try {
  const queries = readQueries("underway");
  const batches = (values.batches ?? "").split(",").map(Number);
  const largest = Math.max(...batches);
  await fillTasks(client, "underway", Number(values.tasks), largest);
  console.log(
    "| statement | plan | batch | buffers hit | time ms | most rows removed | most rows out | seq scan of task |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const c of hotPathCases)
    for (const mode of ["generic", "custom"] as const satisfies ReadonlyArray<Mode>)
      for (const batch of batches) {
        const { json, text } = await explainGeneric(client, queries[c.name], c.args(batch), mode);
        const s = summarise(json, "task");
        console.log(
          `| ${c.name} | ${mode} | ${batch} | ${s.hits} | ${s.time.toFixed(2)} | ${s.mostRemoved} | ${s.mostRows} | ${s.seqScan ? "yes" : "no"} |`,
        );
        if (values.plans === true) console.log(`\n\`\`\`\n${text}\n\`\`\`\n`);
      }
} finally {
  client.release();
  await pool.end();
}
