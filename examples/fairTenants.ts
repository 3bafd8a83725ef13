// Fair tenants: one queue for every customer's reports, each task in its
// customer's group. A big customer's backlog of 10,000 does not hold back a
// small customer's one report: the groups take turns at each claim.
// Run: `npx tsx examples/fairTenants.ts` (docs/flow-control.md explains it).
import * as t from "io-ts";
import { Underway, defineJob } from "../src/index.ts";
import { devDatabase } from "../test/support/devDatabase.ts";

const report = defineJob({
  queue: "reports",
  input: t.type({ customer: t.string, reportId: t.number }),
  optionsFor: ({ customer }) => ({ group: customer }),
});

const database = await devDatabase();
const underway = await Underway.connect({ connectionString: database.url });
const reports = underway.job(report);

await reports.enqueueMany(Array.from({ length: 10_000 }, (_, n) => ({ customer: "acme", reportId: n })));
const small = await reports.enqueue({ customer: "globex", reportId: 1 });

const order: string[] = [];
const worker = reports.start(
  async ({ customer }) => {
    order.push(customer);
    await new Promise((resolve) => setTimeout(resolve, 5));
    return null;
  },
  { concurrency: 4, prefetch: 0 },
);
await reports.result(small);
console.log(`globex's report started after ${order.indexOf("globex")} of acme's 10,000`);
for (const g of await underway.ops.groups("reports"))
  console.log(
    `${g.group}: ${g.pending.approximate ? "over 1,000" : g.pending.count} pending, ${g.running} running`,
  );
await worker.stop();
await underway.close();
await database.stop();
