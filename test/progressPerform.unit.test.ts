// perform (underway/testing) captures ctx.progress values and ctx.log lines
// offline, no database: every progress value in order, the log lines a
// worker would keep, the count cut; a refused value throws to the handler.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import {
  ConfigError,
  defineJob,
  defineStepJob,
  Steps,
  next,
  done,
  type JsonValue,
  type TaskContext,
} from "../src/index.ts";
import { perform } from "../src/testing/index.ts";

const N = t.type({ n: t.number });

describe("perform captures progress and logs", () => {
  it("returns every progress value, the kept lines and the cut count", async () => {
    const definition = defineJob({
      queue: "perform_reports",
      input: N,
      maxLogLines: 3,
      maxLogLineLength: 100,
    });
    const result = await perform(
      definition,
      async ({ n }, ctx: TaskContext) => {
        for (let i = 1; i <= n; i += 1) {
          ctx.progress({ done: i, total: n });
          ctx.log(`step ${i}`);
        }
        ctx.log("nul \u0000 here");
        assert.throws(
          () => ctx.progress({ big: 1n } as unknown as JsonValue),
          /at big: a bigint is not JSON/,
        );
        return null;
      },
      { n: 5 },
    );
    assert.equal(result._tag, "succeeded");
    assert.deepEqual(
      result.progress,
      [1, 2, 3, 4, 5].map((i) => ({ done: i, total: 5 })),
    );
    assert.deepEqual(result.logs, ["step 4", "step 5", "nul \uFFFD here"]);
    assert.equal(result.logsCut, 3);
  });

  it("keeps what a failing handler reported, and each step's own", async () => {
    const failing = await perform(
      defineJob({ queue: "perform_reports_fail", input: N }),
      async (_input, ctx: TaskContext) => {
        ctx.progress(50);
        ctx.log("about to fail");
        throw new Error("boom");
      },
      { n: 1 },
    );
    assert.equal(failing._tag, "failed");
    assert.deepEqual([failing.progress, failing.logs, failing.logsCut], [[50], ["about to fail"], 0]);

    const job = defineStepJob({ queue: "perform_reports_steps", input: N });
    const steps = Steps.of(job)
      .step(async ({ n }, ctx: TaskContext) => {
        ctx.log("first");
        return next({ m: n + 1 });
      })
      .step(async ({ m }: { m: number }, ctx: TaskContext) => {
        ctx.progress(m);
        return done(null);
      });
    const run = await perform(job, steps, { n: 1 });
    assert.equal(run._tag, "succeeded");
    assert.deepEqual(
      run.steps.map((step) => [step.progress, step.logs]),
      [
        [[], ["first"]],
        [[2], []],
      ],
    );
  });
  it("refuses log bounds whose product could not be written in one statement, naming both", () => {
    assert.throws(
      () => defineJob({ queue: "logs_huge", input: N, maxLogLines: 100_000, maxLogLineLength: 1_000_000 }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /maxLogLines × maxLogLineLength may be at most 100,000,000 characters per attempt, got 100000 × 1000000/.test(
          error.message,
        ),
    );
    // Each at its own maximum with the other small is fine.
    defineJob({ queue: "logs_many", input: N, maxLogLines: 100_000, maxLogLineLength: 1_000 });
    defineStepJob({ queue: "logs_long", input: N, maxLogLines: 100, maxLogLineLength: 1_000_000 });
  });
});
