// The multi-step job of examples/multiStep.ts, in a module of its own so
// that its test (examples/multiStep.test.ts) imports what the worker and
// the producer run: the definition, the steps, and the producer's function.
import * as t from "io-ts";
import { Steps, defineStepJob, done, next, nextAfter, type Underway } from "../../src/index.ts";

// The job type, shared by producers and workers: the first step's input and
// the last step's output.
export const signup = defineStepJob({
  queue: "signup",
  input: t.type({ userId: t.number, email: t.string }),
  output: t.type({ onboarded: t.string }),
});

// The worker side: the steps, each its own task.
export const signupSteps = Steps.of(signup, { state: { sender: "welcome@example.com" } })
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

/** The producer side: starts a user's onboarding, the address in lower case; resolves with the run's id. */
export const startOnboarding = (
  underway: Underway,
  user: { userId: number; email: string },
): Promise<string> =>
  underway.job(signup).enqueue({ userId: user.userId, email: user.email.trim().toLowerCase() });
