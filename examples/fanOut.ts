// Fan-out and fan-in: a step starts child tasks (of other job types) and
// the job continues once they have all ended, with their outputs in order.
// Here a quote fetches a price from each shop and the stock in parallel,
// then picks the best price; a tolerant quote lists a failing shop
// (onChildFailure: "continue"), and a quote with the default policy fails
// at the failing shop and cancels its siblings.
// Run: `npx tsx examples/fanOut.ts`
import * as t from "io-ts";
import {
  FatalError,
  Steps,
  Underway,
  child,
  defineJob,
  defineStepJob,
  done,
  fanOut,
  silentLogger,
} from "../src/index.ts";
import { devDatabase } from "../test/support/devDatabase.ts";

const price = defineJob({
  queue: "example-price",
  input: t.type({ shop: t.string, sku: t.string }),
  output: t.number,
  options: { retry: { maxAttempts: 1 } },
});
const stock = defineJob({ queue: "example-stock", input: t.type({ sku: t.string }), output: t.number });

const Quote = t.type({ sku: t.string, shops: t.array(t.string) });

// The default policy: one failing shop fails the quote and cancels the other children.
const quote = defineStepJob({
  queue: "example-quote",
  input: Quote,
  output: t.type({ best: t.number, inStock: t.boolean }),
});
const quoteSteps = Steps.of(quote)
  .step(async ({ sku, shops }) =>
    fanOut([...shops.map((shop) => child(price, { shop, sku })), child(stock, { sku })]),
  )
  .step(async (outputs) => {
    // The prices, then the stock: numbers, in the order listed.
    const units = outputs[outputs.length - 1] ?? 0;
    return done({ best: Math.min(...outputs.slice(0, -1)), inStock: units > 0 });
  });

// "continue": every child's result, failures listed.
const tolerantQuote = defineStepJob({
  queue: "example-tolerant-quote",
  input: Quote,
  output: t.type({ best: t.number, shopsDown: t.array(t.string) }),
});
const tolerantSteps = Steps.of(tolerantQuote)
  .step(async ({ sku, shops }) =>
    fanOut(
      shops.map((shop) => child(price, { shop, sku })),
      { onChildFailure: "continue" },
    ),
  )
  .step(async (results) =>
    done({
      best: Math.min(...results.flatMap((result) => (result.ok ? [result.output] : []))),
      shopsDown: results.flatMap((result) => (result.ok ? [] : [result.error])),
    }),
  );

const database = await devDatabase();
const underway = await Underway.connect({ connectionString: database.url, logger: silentLogger });
const workers = [
  underway.job(price).start(async ({ shop, sku }) => {
    if (shop === "closed") throw new FatalError(`shop ${shop} is closed`);
    return sku.length * 10 + shop.length;
  }),
  underway.job(stock).start(async () => 3),
  underway.job(quote).start(quoteSteps),
  underway.job(tolerantQuote).start(tolerantSteps),
];

const quotes = underway.job(quote);
const plain = await quotes.enqueue({ sku: "A-1", shops: ["north", "south", "east"] });
console.log("quote:", await quotes.result(plain));
const tolerant = await underway.job(tolerantQuote).enqueue({ sku: "A-1", shops: ["north", "closed"] });
console.log("tolerant quote:", await underway.job(tolerantQuote).result(tolerant));
const strict = await quotes.enqueue({ sku: "A-1", shops: ["north", "closed"] });
const outcome = await quotes.outcome(strict);
console.log("strict quote:", outcome._tag, outcome._tag === "failed" ? outcome.error : "");
const [fan] = await underway.ops.fanOuts(strict);
console.log("its fan-out:", fan?.settled, `${fan?.succeeded ?? 0} of ${fan?.total ?? 0} children succeeded`);

await Promise.all(workers.map((worker) => worker.stop()));
await underway.close();
await database.stop();
