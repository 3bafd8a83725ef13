// A multi-step job: each step's output is the next step's input, checked by
// the compiler; each step is its own task, the next enqueued in the same
// statement that completes the current one.
// Run: `npx tsx examples/multiStep.ts`
import * as t from "io-ts";
import { Steps, Underway, done, next, nextAfter } from "../src/index.ts";
import { devDatabase } from "../test/support/devDatabase.ts";

const Signup = t.type({ userId: t.number, email: t.string });

const database = await devDatabase();
const underway = await Underway.connect({ connectionString: database.url });
const queue = await underway.queue({ name: "signup", input: Signup });

const signup = Steps.on(underway, queue, { state: { sender: "welcome@example.com" } })
  .step(async ({ userId, email }, { stepIndex, stepCount }) => {
    console.log(`step ${stepIndex + 1}/${stepCount}: create account ${userId}`);
    return next({ userId, email, token: `token-${userId}` });
  })
  .step(
    async ({ email, token }, { state, stepIndex }) => {
      console.log(`step ${stepIndex + 1}: ${state.sender} sends ${token} to ${email}`);
      // In real life a day; here half a second.
      return nextAfter({ email }, 500);
    },
    { retry: { maxAttempts: 10 } }, // this step's own retry policy
  )
  .step(async ({ email }, { stepIndex }) => {
    console.log(`step ${stepIndex + 1}: reminder to ${email}`);
    return done({ onboarded: email });
  })
  .build();

const worker = signup.start({ concurrency: 4, pollIntervalMs: 100 });
const jobId = await signup.enqueue({ userId: 1, email: "ferris@example.com" });
console.log(`job ${jobId} enqueued`);
console.log("result:", await signup.result(jobId));

await worker.stop();
await underway.close();
await database.stop();
