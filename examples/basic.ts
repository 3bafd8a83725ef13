// The seed crate's welcome-email example, made real: enqueue a batch of
// typed tasks, run a worker, print each outcome as it arrives. Producer and
// worker share the definition in ./tasks/welcomeEmail.ts; here they run in
// one process, in production usually in two.
// Run: `npm start` (uses DATABASE_URL, or starts an embedded PostgreSQL).
// Run from a terminal (or with UNDERWAY_DASHBOARD=1) it also serves the web
// dashboard on 127.0.0.1, prints its URL and keeps serving after the demo
// until Ctrl-C. With its output piped (CI, a log file) nobody could open a
// URL that closes when the demo ends, so it serves none and exits when done;
// UNDERWAY_DASHBOARD=0 leaves the dashboard out on a terminal too.
import { serveDashboard, Underway } from "../src/index.ts";
import { devDatabase } from "../test/support/devDatabase.ts";
import { welcomeEmail, type WelcomeEmail } from "./tasks/welcomeEmail.ts";

const database = await devDatabase();
const underway = await Underway.connect({ connectionString: database.url });
const emails = underway.job(welcomeEmail);
const dashboardWanted =
  process.env["UNDERWAY_DASHBOARD"] === "1" ||
  (process.env["UNDERWAY_DASHBOARD"] !== "0" && process.stdout.isTTY);
const dashboard = dashboardWanted
  ? await serveDashboard(underway, { port: Number(process.env["PORT"] ?? 0) })
  : undefined;
if (dashboard !== undefined) console.log(`Dashboard: ${dashboard.url}`);

// The worker side: attach the handler to the shared definition.
const flaky = new Set<number>([3]); // this user's first send fails, then is retried
const worker = emails.start(
  async ({ userId, email, name }) => {
    if (flaky.delete(userId)) throw new Error(`mail server busy for ${email}`);
    console.log(`Sending welcome email to ${name} <${email}> (user_id: ${userId})`);
    return { sentAt: new Date() };
  },
  { concurrency: 4 },
);

// Outcomes come from the database's notifications, so any process could watch.
const outcomes = emails.outcomes$.subscribe((outcome) => {
  const detail =
    outcome._tag === "succeeded"
      ? `sent at ${outcome.output.sentAt.toISOString()}`
      : outcome._tag === "retrying"
        ? `error "${outcome.error}", runs again at ${outcome.runAt.toISOString()}`
        : outcome._tag === "failed"
          ? `error "${outcome.error}"`
          : "";
  console.log(`task ${outcome.taskId} attempt ${outcome.attempt}: ${outcome._tag} ${detail}`);
});
await underway.listening(); // from here on, no outcome is missed

// The producer side: enqueue typed inputs; no handler needed.
const users: WelcomeEmail[] = ["Ferris", "Corro", "Rusty", "Gopher", "Duke"].map((name, index) => ({
  userId: index + 1,
  email: `${name.toLowerCase()}@example.com`,
  name,
}));
const ids = await emails.enqueueMany(users);
console.log(`Enqueued tasks ${ids.join(", ")}`);

const results = await Promise.all(ids.map((id) => emails.outcome(id)));
const succeeded = results.filter((outcome) => outcome._tag === "succeeded").length;
console.log(`${succeeded} of ${ids.length} welcome emails sent`);

if (dashboard !== undefined) {
  console.log(`Dashboard still serving at ${dashboard.url} (Ctrl-C to stop)`);
  await new Promise((resolve) => process.once("SIGINT", resolve));
}
await worker.stop();
outcomes.unsubscribe();
await underway.close(); // stops the dashboard too
await database.stop();
process.exit(succeeded === ids.length ? 0 : 1);
