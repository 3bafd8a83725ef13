// The seed crate's welcome-email example, made real: enqueue a batch of
// typed tasks, run a worker, print each outcome as it arrives.
// Run: `npm start` (uses DATABASE_URL, or starts an embedded PostgreSQL).
import * as t from "io-ts";
import { Job, Underway } from "../src/index.ts";
import { devDatabase } from "../test/support/devDatabase.ts";

const WelcomeEmail = t.type({ userId: t.number, email: t.string, name: t.string });
type WelcomeEmail = t.TypeOf<typeof WelcomeEmail>;

const database = await devDatabase();
const underway = await Underway.connect({ connectionString: database.url });
const queue = await underway.queue({ name: "email", input: WelcomeEmail, dlq: "email_dlq" });

const flaky = new Set<number>([3]); // this user's first send fails, then is retried
const job = Job.of(
  underway,
  queue,
  async ({ userId, email, name }: WelcomeEmail) => {
    if (flaky.delete(userId)) throw new Error(`mail server busy for ${email}`);
    console.log(`Sending welcome email to ${name} <${email}> (user_id: ${userId})`);
    return { sentAt: new Date().toISOString() };
  },
  { retry: { initialIntervalMs: 200 } },
);

const users: WelcomeEmail[] = ["Ferris", "Corro", "Rusty", "Gopher", "Duke"].map((name, index) => ({
  userId: index + 1,
  email: `${name.toLowerCase()}@example.com`,
  name,
}));

// Outcomes come from the database's notifications, so any process could watch.
const outcomes = job.outcomes$.subscribe((outcome) => {
  const detail =
    outcome._tag === "succeeded"
      ? `output ${JSON.stringify(outcome.output)}`
      : outcome._tag === "retrying"
        ? `error "${outcome.error}", runs again at ${outcome.runAt.toISOString()}`
        : outcome._tag === "failed"
          ? `error "${outcome.error}"`
          : "";
  console.log(`task ${outcome.taskId} attempt ${outcome.attempt}: ${outcome._tag} ${detail}`);
});

await underway.listening(); // from here on, no outcome is missed

const worker = job.start({ concurrency: 4 });
const ids = await job.enqueueMany(users);
console.log(`Enqueued tasks ${ids.join(", ")}`);

const results = await Promise.all(ids.map((id) => job.outcome(id)));
const succeeded = results.filter((outcome) => outcome._tag === "succeeded").length;
console.log(`${succeeded} of ${ids.length} welcome emails sent`);

await worker.stop();
outcomes.unsubscribe();
await underway.close();
await database.stop();
process.exit(succeeded === ids.length ? 0 : 1);
