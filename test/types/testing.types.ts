// Type tests of underway/testing, checked by `npm run typecheck` and never
// run: each line after `@ts-expect-error` must fail to compile, and each
// valid counterpart must compile.
import * as t from "io-ts";
import { DateFromISOString } from "../../examples/tasks/welcomeEmail.ts";
import { Steps, defineJob, defineStepJob, done, next, type Underway } from "../../src/index.ts";
import { expectEnqueued, enqueuedTasks, perform } from "../../src/testing/index.ts";

const email = defineJob({
  queue: "email",
  input: t.type({
    userId: t.number,
    email: t.string,
    profile: t.type({ name: t.string, tags: t.array(t.string) }),
  }),
  output: t.type({ sentAt: DateFromISOString }),
});
const signup = defineStepJob({ queue: "signup", input: t.type({ userId: t.number }), output: t.number });

/** perform takes the definition's input type and gives its output type. */
export const performTypes = async (): Promise<void> => {
  const handler = async ({ email: to }: { email: string }) => ({ sentAt: new Date(to.length) });
  const input = { userId: 1, email: "a@example.com", profile: { name: "A", tags: [] } };
  const result = await perform(email, handler, input);
  if (result._tag === "succeeded") {
    const at: Date = result.output.sentAt;
    void at;
  }
  if (result._tag === "failed") {
    const retry: boolean = result.willRetry && result.retryable;
    void retry;
  }
  // @ts-expect-error userId is a number
  await perform(email, handler, { ...input, userId: "1" });
  // @ts-expect-error a handler must return the output schema's type
  await perform(email, async () => ({ sentAt: "yesterday" }), input);
  // @ts-expect-error an unknown option
  await perform(email, handler, input, { atempt: 2 });

  const steps = Steps.of(signup)
    .step(async ({ userId }) => next({ userId, token: "t" }))
    .step(async ({ userId }) => done(userId));
  const run = await perform(signup, steps, { userId: 1 });
  if (run._tag === "succeeded") {
    const output: number = run.output;
    void output;
  }
  if (run._tag === "failed") {
    const failedAt: number = run.stepIndex;
    void failedAt;
  }
  // @ts-expect-error a multi-step job takes its Steps, not a handler
  await perform(signup, async () => 1, { userId: 1 });
  const otherSteps = Steps.of(defineStepJob({ queue: "other", input: t.string })).step(async () => done(1));
  // @ts-expect-error Steps of another definition's input
  await perform(signup, otherSteps, { userId: 1 });
};

/** expectEnqueued's match is a deep partial of the input, or a predicate on it. */
export const expectEnqueuedTypes = async (underway: Underway): Promise<void> => {
  await expectEnqueued(underway, email);
  await expectEnqueued(underway, email, { userId: 1 });
  await expectEnqueued(underway, email, { profile: { name: "A" } });
  await expectEnqueued(underway, email, { profile: { tags: ["vip"] } });
  await expectEnqueued(underway, email, (input) => input.email.endsWith("@example.com"), { count: 1 });
  // @ts-expect-error userId is a number
  await expectEnqueued(underway, email, { userId: "1" });
  // @ts-expect-error no such field in the input
  await expectEnqueued(underway, email, { userID: 1 });
  // @ts-expect-error no such field deeper down
  await expectEnqueued(underway, email, { profile: { nick: "A" } });
  // @ts-expect-error the predicate is given the input's type
  await expectEnqueued(underway, email, (input) => input.mail === "x");
  // @ts-expect-error an unknown option
  await expectEnqueued(underway, email, { userId: 1 }, { cout: 1 });
  const tasks = await enqueuedTasks(underway, email);
  const name: string | undefined = tasks[0]?.input.profile.name;
  void name;
};
