// The dashboard's job graph: steps and fan-outs in the order they ran.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jobNodes } from "../src/dashboard/pages/jobGraph.ts";
import type { JobFanOut, TaskSummary } from "../src/dashboard/opsContract.ts";

const step = (stepIndex: number, state: TaskSummary["state"] = "succeeded"): TaskSummary =>
  ({ id: String(100 + stepIndex), stepIndex, state }) as TaskSummary;
const fan = (stepIndex: number, settled: JobFanOut["settled"]): JobFanOut =>
  ({
    batchId: String(stepIndex),
    stepIndex,
    settled,
    total: 2,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
  }) as JobFanOut;

const shape = (nodes: ReturnType<typeof jobNodes>) =>
  nodes.map((node) => (node._tag === "step" ? `s${node.step.stepIndex}` : `f${node.fan.stepIndex}`));

describe("job graph", () => {
  it("puts each fan-out before the step that received its results, and a waiting one last", () => {
    const steps = [step(0), step(1), step(2), step(3, "in_progress")];
    const fanOuts = [fan(4, null), fan(2, "continued"), fan(1, "continued")];
    assert.deepEqual(shape(jobNodes(steps, fanOuts)), ["s0", "f1", "s1", "f2", "s2", "s3", "f4"]);
  });

  it("draws a job of steps alone, and a job whose first step's fan-out still waits", () => {
    assert.deepEqual(shape(jobNodes([step(0), step(1)], [])), ["s0", "s1"]);
    assert.deepEqual(shape(jobNodes([step(0)], [fan(1, null)])), ["s0", "f1"]);
    assert.deepEqual(shape(jobNodes([], [])), []);
  });
});
