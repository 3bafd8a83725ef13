// Several task kinds on one queue: the queue's codec is a tagged union, and
// the handler switches on the tag. TypeScript checks every case is handled.
// Run: `npx tsx examples/multitask.ts`
import * as t from "io-ts";
import { Underway, defineJob } from "../src/index.ts";
import { devDatabase } from "../test/support/devDatabase.ts";

const Message = t.union([
  t.type({ kind: t.literal("welcome"), email: t.string }),
  t.type({ kind: t.literal("invoice"), email: t.string, amountCents: t.number }),
  t.type({ kind: t.literal("goodbye"), email: t.string }),
]);
type Message = t.TypeOf<typeof Message>;

const describe = (message: Message): string => {
  switch (message.kind) {
    case "welcome":
      return `welcome mail to ${message.email}`;
    case "invoice":
      return `invoice of ${(message.amountCents / 100).toFixed(2)} to ${message.email}`;
    case "goodbye":
      return `goodbye mail to ${message.email}`;
  }
};

const database = await devDatabase();
const underway = await Underway.connect({ connectionString: database.url });
const job = underway.job(defineJob({ queue: "mail", input: Message }));

const worker = job.start(async (message) => {
  const text = describe(message);
  console.log(`sending ${text}`);
  return text;
});
const ids = await job.enqueueMany([
  { kind: "welcome", email: "ferris@example.com" },
  { kind: "invoice", email: "ferris@example.com", amountCents: 4_200 },
  { kind: "goodbye", email: "corro@example.com" },
]);
for (const id of ids) console.log(`task ${id}: ${await job.result(id)}`);

await worker.stop();
await underway.close();
await database.stop();
