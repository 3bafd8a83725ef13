// A transactional handler: its database writes and its task's completion
// commit together, so a payment is booked exactly once, even when an
// attempt fails after writing. Then the same job processed by hand with
// runOnce and drain, as a script or a cron job would.
// Run: `npx tsx examples/transactional.ts`
import * as t from "io-ts";
import { Underway, defineJob, transactional } from "../src/index.ts";
import { devDatabase } from "../test/support/devDatabase.ts";

// The task type, shared by producers and workers.
const bookPayment = defineJob({
  queue: "payments",
  input: t.type({ orderId: t.string, cents: t.number }),
  output: t.type({ entryId: t.string }),
  options: { retry: { maxAttempts: 3, initialIntervalMs: 100 } },
});

const database = await devDatabase();
const underway = await Underway.connect({ connectionString: database.url });
await underway.pool.query(
  "create table if not exists ledger (id bigint generated always as identity primary key, order_id text, cents integer)",
);
const payments = underway.job(bookPayment);

// Writes through ctx.tx; underway records the success in the same transaction.
const book = transactional(
  async ({ orderId, cents }: { orderId: string; cents: number }, { tx, attempt }) => {
    const { rows } = await tx.query<{ id: string }>(
      "insert into ledger (order_id, cents) values ($1, $2) returning id::text",
      [orderId, cents],
    );
    // The first attempt for order B fails after its insert: the insert rolls back.
    if (orderId === "B" && attempt === 1) throw new Error("card network hiccup");
    return { entryId: rows[0]?.id ?? "" };
  },
);

const worker = payments.start(book, { concurrency: 4 });
const ids = await payments.enqueueMany([
  { orderId: "A", cents: 1_000 },
  { orderId: "B", cents: 2_500 },
  { orderId: "C", cents: 400 },
]);
for (const id of ids) console.log("booked:", await payments.result(id));
await worker.stop();

// By hand, without a long-lived worker.
await payments.enqueue({ orderId: "D", cents: 700 });
const outcome = await payments.runOnce(book);
console.log("runOnce:", outcome?._tag);
await payments.enqueueMany([
  { orderId: "E", cents: 100 },
  { orderId: "F", cents: 200 },
]);
console.log("drain:", await payments.drain(book, { until: "empty" }));

const { rows } = await underway.pool.query<{ order_id: string; n: number }>(
  "select order_id, count(*)::int as n from ledger group by order_id order by order_id",
);
console.log(
  "ledger rows per order (each exactly once):",
  rows.map((row) => `${row.order_id}=${row.n}`).join(" "),
);

await underway.close();
await database.stop();
