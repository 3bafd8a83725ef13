// A multi-step job: each step's output is the next step's input, checked by
// the compiler; each step is its own task, the next enqueued in the same
// statement that completes the current one.
// Run: `npx tsx examples/multiStep.ts`
import * as t from "io-ts";
import { Steps, Underway, defineStepJob, done, next, nextAfter } from "../src/index.ts";
import { devDatabase } from "../test/support/devDatabase.ts";

// The job type, shared by producers and workers: the first step's input and
// the last step's output.
const signup = defineStepJob({
  queue: "signup",
  input: t.type({ userId: t.number, email: t.string }),
  output: t.type({ onboarded: t.string }),
});

const database = await devDatabase();
const underway = await Underway.connect({ connectionString: database.url });

// The worker side: the steps, each its own task.
const signupSteps = Steps.of(signup, { state: { sender: "welcome@example.com" } })
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
  });
const worker = underway.job(signup).start(signupSteps, { concurrency: 4 });

// The producer side.
const jobId = await underway.job(signup).enqueue({ userId: 1, email: "ferris@example.com" });
console.log(`job ${jobId} enqueued`);
console.log("result:", await underway.job(signup).result(jobId));

await worker.stop();
await underway.close();
await database.stop();
