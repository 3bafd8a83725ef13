// A consumer program: what an application does with the installed package.
// test/consumer/run.sh type-checks it with --strict --exactOptionalPropertyTypes
// in a fresh project outside this repository and runs it with plain `node`
// (no tsx) on Node 20 and 24. It must exit by itself after `close()`: nothing
// here calls process.exit on success, and the outcome stream stays subscribed,
// so a leftover timer or connection shows up as a timeout.
import assert from "node:assert/strict";
import * as t from "io-ts";
import { filter, firstValueFrom } from "rxjs";
import {
  AbortError,
  ConfigError,
  Steps,
  TaskFailedError,
  Underway,
  ValidationError,
  defineJob,
  defineStepJob,
  done,
  next,
  openTelemetry,
  prometheusMetrics,
  runScheduler,
  schedule,
  unschedule,
  type Outcome,
} from "underway";

// Definitions: shared by producers and workers.
const DateFromISOString = new t.Type<Date, string, unknown>(
  "DateFromISOString",
  (value): value is Date => value instanceof Date,
  (value, context) => {
    const date = typeof value === "string" ? new Date(value) : undefined;
    return date !== undefined && !Number.isNaN(date.getTime()) ? t.success(date) : t.failure(value, context);
  },
  (date) => date.toISOString(),
);
const welcomeEmail = defineJob({
  queue: "email",
  dlq: "email_dlq",
  input: t.type({ userId: t.number, email: t.string }),
  output: t.type({ sent: t.string, at: DateFromISOString }),
  options: { retry: { maxAttempts: 2 } },
});
const signup = defineStepJob({
  queue: "signup",
  input: t.type({ userId: t.number }),
  output: t.type({ onboarded: t.string }),
});
const report = defineJob({ queue: "report", input: t.type({ region: t.string }) });

// Two clients, as two processes would have: one only enqueues, one works.
const producer = await Underway.connect({ connectionString: process.env.DATABASE_URL });
const workers = await Underway.connect({ connectionString: process.env.DATABASE_URL });

const emails = producer.job(welcomeEmail);
const seen: Array<Outcome<{ sent: string; at: Date }>> = [];
emails.outcomes$.subscribe((outcome) => seen.push(outcome)); // left subscribed through close()
await producer.listening();

const abortReasons: unknown[] = [];
const worker = workers.job(welcomeEmail).start(
  async ({ userId, email }, { signal }) => {
    if (userId === 13) {
      // A cancelled task's signal carries an AbortError saying why.
      await new Promise<void>((_, reject) =>
        signal.addEventListener("abort", () => {
          abortReasons.push(signal.reason);
          reject(signal.reason as Error);
        }),
      );
    }
    return { sent: `${userId}:${email}`, at: new Date() };
  },
  { concurrency: 4 },
);

const id = await emails.enqueue({ userId: 42, email: "ferris@example.com" });
const result = await emails.result(id);
assert.equal(result.sent, "42:ferris@example.com");
assert.ok(result.at instanceof Date, "the output codec's Date comes back a Date in the producer");
const { rows } = await producer.pool.query<{ max_attempts: number }>(
  "select max_attempts from underway.task_all where id = $1",
  [id],
);
assert.equal(rows[0]?.max_attempts, 2, "the task carries the definition's options");
console.log("ok enqueue, worker, typed result, definition options");

await waitFor(() => seen.some((outcome) => outcome.taskId === id && outcome._tag === "succeeded"));
console.log("ok outcomes$");

await assert.rejects(emails.enqueue({ userId: Number.NaN, email: "x" }), ValidationError);
assert.throws(() => emails.result("not-an-id"), ValidationError);
console.log("ok validation errors");

// Cancel: a delayed task before it runs, and a running one.
const later = await emails.enqueue({ userId: 7, email: "later@example.com" }, { delayMs: 60_000 });
assert.equal(await emails.cancel(later), true);
assert.equal((await emails.outcome(later))._tag, "cancelled");
await assert.rejects(emails.result(later), TaskFailedError);
const running = await emails.enqueue({ userId: 13, email: "running@example.com" });
await waitForState(running, "in_progress");
assert.equal(await emails.cancel(running), true);
assert.equal((await emails.outcome(running))._tag, "cancelled");
await waitFor(() => abortReasons.length === 1);
assert.ok(
  abortReasons[0] instanceof AbortError && abortReasons[0].kind === "cancelled",
  "signal.reason is an AbortError",
);
console.log("ok cancel");

// A multi-step job: each step's output is the next step's input.
const signupWorker = workers.job(signup).start(
  Steps.of(signup)
    .step(async ({ userId }) => next({ userId, token: `token-${userId}` }))
    .step(async ({ userId, token }) => done({ onboarded: `${userId}/${token}` })),
  { concurrency: 2 },
);
const jobId = await producer.job(signup).enqueue({ userId: 1 });
assert.deepEqual(await producer.job(signup).result(jobId), { onboarded: "1/token-1" });
console.log("ok multi-step job");

// A schedule: every second, one task per tick.
await schedule(producer.job(report), "* * * * * *[UTC]", { region: "west" });
runScheduler(workers.job(report)); // stopped by close()
const reportWorker = workers.job(report).start(async ({ region }) => `report for ${region}`);
const ticked = await firstValueFrom(
  reportWorker.outcomes$.pipe(filter((outcome) => outcome._tag === "succeeded")),
);
assert.equal(ticked._tag === "succeeded" && ticked.output, "report for west");
await unschedule(producer.job(report));
console.log("ok schedule");

// The optional peers are not installed here: underway works, and the
// integrations that need them say so with a ConfigError.
await assert.rejects(prometheusMetrics(producer), ConfigError);
await assert.rejects(openTelemetry(producer), ConfigError);
console.log("ok without optional peers");

// Close: everything the clients started ends; the process must then exit on its own.
await Promise.all([worker.stop(), signupWorker.stop()]);
await Promise.all([producer.close(), workers.close()]);
console.log("ok close");

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function waitForState(taskId: string, state: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const read = await producer.pool.query<{ state: string }>(
      "select state::text from underway.task_all where id = $1",
      [taskId],
    );
    if (read.rows[0]?.state === state) return;
    if (Date.now() > deadline) throw new Error(`task ${taskId} never reached ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
