// The dashboard's pages on a large table: times each page through the Fetch
// handler in-process (what a browser waits for, less the network), median
// of several requests after a warm-up. Reads the table `npm run bench:ops`
// builds (schema `bench_ops`, 10 million rows by default), so build it first:
//
//   npm run bench:ops -- --no-write                      # builds bench_ops (10 M rows)
//   npx tsx benchmarks/dashboardPages.ts                 # times the pages
//   npx tsx benchmarks/dashboardPages.ts --schema s --runs 9
import { parseArgs } from "node:util";
import { dashboard, silentLogger, Underway } from "../src/index.ts";

const { values: args } = parseArgs({
  options: {
    schema: { type: "string", default: "bench_ops" },
    runs: { type: "string", default: "7" },
  },
});
const url = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
const runs = Number(args.runs);

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

const underway = await Underway.connect({ connectionString: url, schema: args.schema, logger: silentLogger });
try {
  const { rows } = await underway.pool.query<{ n: string }>(
    `select reltuples::bigint::text as n from pg_class where oid = '${args.schema}.task'::regclass`,
  );
  const handler = dashboard(underway, { authorize: () => "admin", queryTimeoutMs: 30_000 });
  const get = async (path: string): Promise<{ status: number; text: string }> => {
    const response = await handler(new Request(`http://127.0.0.1${path}`));
    return { status: response.status, text: await response.text() };
  };
  const some = (await underway.ops.tasks({}, { limit: 1 })).tasks[0];
  // A deep page: the cursor after 20 pages of the unfiltered list.
  let deep = "/tasks";
  for (let page = 0; page < 20; page += 1) {
    const next = /rel="next" href="([^"]+)"/.exec((await get(deep)).text)?.[1];
    if (next === undefined) break;
    deep = next.replace(/&amp;/g, "&");
  }
  const pages: ReadonlyArray<readonly [string, string]> = [
    ["overview (counts per queue and state, throughput)", "/"],
    ["tasks, first page", "/tasks"],
    ["tasks, page 21 (keyset cursor)", deep],
    ["tasks, state=failed", "/tasks?state=failed"],
    ["tasks, queue=email state=pending", "/tasks?queue=email&state=pending"],
    ["tasks, error contains 'smtp'", "/tasks?error=smtp"],
    ["tasks, input userId=42", "/tasks?input=userId%3D42"],
    ["task detail", `/tasks/${some?.id ?? "1"}`],
    ["dead letters", "/dlq"],
    ["schedules", "/schedules"],
    ["workers", "/workers"],
  ];
  process.stdout.write(`${args.schema}.task: about ${rows[0]?.n} rows; median of ${runs} requests\n\n`);
  process.stdout.write("| page | status | median ms |\n|---|---|---|\n");
  for (const [label, path] of pages) {
    const first = await get(path); // warm: plans, caches, connections
    const ms: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      const started = performance.now();
      await get(path);
      ms.push(performance.now() - started);
    }
    process.stdout.write(`| ${label} | ${first.status} | ${median(ms).toFixed(1)} |\n`);
  }
} finally {
  await underway.close();
}
