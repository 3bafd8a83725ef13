// A consumer program: what an application does with the installed package.
// test/consumer/run.sh type-checks it with --strict --exactOptionalPropertyTypes
// in a fresh project outside this repository and runs it with plain `node`
// (no tsx) on Node 20 and 24. It must exit by itself after `close()`: nothing
// here calls process.exit on success, so a leftover timer or connection shows
// up as a timeout.
import assert from "node:assert/strict";
import * as t from "io-ts";
import { filter, firstValueFrom } from "rxjs";
import {
  Job,
  Steps,
  TaskFailedError,
  Underway,
  done,
  next,
  runScheduler,
  schedule,
  unschedule,
  type Outcome,
} from "underway";

const underway = await Underway.connect({ connectionString: process.env.DATABASE_URL });

// Enqueue, a worker, outcomes$ and result.
const WelcomeEmail = t.type({ userId: t.number, email: t.string });
const emails = await underway.queue({ name: "email", input: WelcomeEmail, dlq: "email_dlq" });
const email = Job.of(underway, emails, async ({ userId, email }) => ({ sent: `${userId}:${email}` }));

const seen: Array<Outcome<{ sent: string }>> = [];
email.outcomes$.subscribe((outcome) => seen.push(outcome));
const worker = email.start({ concurrency: 4 });

const id = await email.enqueue({ userId: 42, email: "ferris@example.com" });
assert.deepEqual(await email.result(id), { sent: "42:ferris@example.com" });
console.log("ok enqueue, worker, result");

// The outcome stream saw the same success (it may arrive just after result()).
await waitFor(() => seen.some((outcome) => outcome.taskId === id && outcome._tag === "succeeded"));
console.log("ok outcomes$");

// Cancel: a delayed task is cancelled before it runs.
const later = await email.enqueue({ userId: 7, email: "later@example.com" }, { delayMs: 60_000 });
assert.equal(await email.cancel(later), true);
assert.equal((await email.outcome(later))._tag, "cancelled");
await assert.rejects(email.result(later), TaskFailedError);
console.log("ok cancel");

// A multi-step job: each step's output is the next step's input.
const Signup = t.type({ userId: t.number });
const signups = await underway.queue({ name: "signup", input: Signup });
const signup = Steps.on(underway, signups)
  .step(async ({ userId }) => next({ userId, token: `token-${userId}` }))
  .step(async ({ userId, token }) => done({ onboarded: `${userId}/${token}` }))
  .build();
const signupWorker = signup.start({ concurrency: 2 });
const jobId = await signup.enqueue({ userId: 1 });
assert.deepEqual(await signup.result(jobId), { onboarded: "1/token-1" });
console.log("ok multi-step job");

// A schedule: every second, one task per tick.
const Report = t.type({ region: t.string });
const reports = await underway.queue({ name: "report", input: Report });
const report = Job.of(underway, reports, async ({ region }) => `report for ${region}`);
await schedule(report, "* * * * * *[UTC]", { region: "west" });
const scheduler = runScheduler(report);
const reportWorker = report.start();
const ticked = await firstValueFrom(
  reportWorker.outcomes$.pipe(filter((outcome) => outcome._tag === "succeeded")),
);
assert.equal(ticked._tag === "succeeded" && ticked.output, "report for west");
await unschedule(report);
await scheduler.stop();
console.log("ok schedule");

// Close: stop the workers, then close; the process must then exit on its own.
await Promise.all([worker.stop(), signupWorker.stop(), reportWorker.stop()]);
await underway.close();
console.log("ok close");

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
