// The multi-step example's own test, written with underway/testing as an
// application would write it: the steps run in this process without a
// database (`perform`), and the producer's enqueue is checked against a
// real one (`expectEnqueued`).
// Run: `npx tsx examples/multiStep.test.ts` (CI runs it with the other
// examples; it uses DATABASE_URL, or starts an embedded PostgreSQL).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Underway } from "../src/index.ts";
import { expectEnqueued, perform } from "../src/testing/index.ts";
import { devDatabase, type DevDatabase } from "../test/support/devDatabase.ts";
import { signup, signupSteps, startOnboarding } from "./tasks/signup.ts";

describe("the signup steps", () => {
  it("onboard a user: a token, the welcome mail, a reminder a delay later", async () => {
    const result = await perform(signup, signupSteps, { userId: 1, email: "ferris@example.com" });
    assert.ok(result._tag === "succeeded", `the run ${result._tag}`);
    assert.deepEqual(result.output, { onboarded: "ferris@example.com" });
    // What each step handed on, and after which delay; none was waited for.
    assert.deepEqual(
      result.steps.map((step) => step.returned),
      [
        { _tag: "next", value: { userId: 1, email: "ferris@example.com", token: "token-1" }, delayMs: 0 },
        { _tag: "next", value: { email: "ferris@example.com" }, delayMs: 500 },
        { _tag: "done", value: { onboarded: "ferris@example.com" } },
      ],
    );
  });
});

describe("startOnboarding", () => {
  let database: DevDatabase | undefined;
  let underway: Underway | undefined;
  before(async () => {
    database = await devDatabase();
    // A schema of its own: DATABASE_URL's database may hold the other examples' tasks.
    underway = await Underway.connect({ connectionString: database.url, schema: "example_signup_test" });
  });
  after(async () => {
    await underway?.pool.query("drop schema example_signup_test cascade");
    await underway?.close();
    await database?.stop();
  });

  it("enqueues a run with the address in lower case", async () => {
    assert.ok(underway !== undefined);
    const jobId = await startOnboarding(underway, { userId: 7, email: " Corro@Example.com" });
    const [task] = await expectEnqueued(
      underway,
      signup,
      { userId: 7, email: "corro@example.com" },
      { count: 1 },
    );
    assert.equal(task?.jobId, jobId);
  });
});
