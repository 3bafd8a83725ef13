import * as E from "fp-ts/lib/Either.js";
import type { Outcome } from "../outcomes.ts";
import type { TaskRow } from "../db/taskQueries.ts";
import type { StepOutput } from "./steps.ts";

/** What becomes of a job run. `stepSucceeded` and `retrying` are not final. */
export type JobOutcome<O> =
  | {
      /** A step returned `done`, or the last step returned: the run is over. */
      readonly _tag: "succeeded";
      /** The run's id, as `enqueue` returned it. */
      readonly jobId: string;
      /** The step that ended the run, 0-based. */
      readonly stepIndex: number;
      /** The `done` value, decoded with the definition's output schema. */
      readonly output: O;
    }
  | {
      /** A step returned `next`: its successor is enqueued. Not final. */
      readonly _tag: "stepSucceeded";
      /** The run's id. */
      readonly jobId: string;
      /** The step that succeeded, 0-based. */
      readonly stepIndex: number;
      /** The id of that step's task (its successor is a new task). */
      readonly taskId: string;
    }
  | {
      /**
       * A step returned `fanOut(children)`: its children are enqueued, and
       * the next step follows when they have all ended. Not final.
       */
      readonly _tag: "fannedOut";
      /** The run's id. */
      readonly jobId: string;
      /** The step that fanned out, 0-based. */
      readonly stepIndex: number;
      /** The id of that step's task (`ops.batch` of its fan-out lists it as the parent). */
      readonly taskId: string;
      /** How many children it started. */
      readonly children: number;
      /** What a failed child does to the run. */
      readonly onChildFailure: "fail" | "continue";
    }
  | {
      /** A step's attempt failed and will run again. Not final. */
      readonly _tag: "retrying";
      /** The run's id. */
      readonly jobId: string;
      /** The step being retried, 0-based. */
      readonly stepIndex: number;
      /** The failed attempt's error message. */
      readonly error: string;
      /** When the step's next attempt may start. */
      readonly runAt: Date;
    }
  | {
      /**
       * A step failed for good (retries exhausted, a `FatalError`), or the
       * `done` value failed the output schema: the run is over.
       */
      readonly _tag: "failed";
      /** The run's id. */
      readonly jobId: string;
      /** The step that failed, 0-based. */
      readonly stepIndex: number;
      /** The last attempt's error message. */
      readonly error: string;
      /** The dead-letter queue the failed step's task moved to; null when the queue has none. */
      readonly deadLetterQueue: string | null;
    }
  | {
      /** The run was cancelled: no further step runs. */
      readonly _tag: "cancelled";
      /** The run's id. */
      readonly jobId: string;
      /** The step that was pending or running when it was cancelled, 0-based. */
      readonly stepIndex: number;
    };

/**
 * A step task's outcome as an outcome of its run: a `done` value is
 * decoded with the definition's output schema (`decodeOutput`); `undefined`
 * for a task that belongs to no run.
 */
export const jobOutcomeOf = <O>(
  outcome: Outcome<StepOutput>,
  decodeOutput: (value: unknown) => E.Either<{ readonly message: string }, O>,
): JobOutcome<O> | undefined => {
  if (outcome.jobId === null) return undefined;
  const base = { jobId: outcome.jobId, stepIndex: outcome.stepIndex ?? 0 };
  switch (outcome._tag) {
    case "succeeded": {
      if (outcome.output._tag === "fanOut")
        return {
          ...base,
          _tag: "fannedOut",
          taskId: outcome.taskId,
          children: outcome.output.children,
          onChildFailure: outcome.output.onChildFailure,
        };
      if (outcome.output._tag !== "done") return { ...base, _tag: "stepSucceeded", taskId: outcome.taskId };
      const loaded = decodeOutput(outcome.output.value);
      return E.isRight(loaded)
        ? { ...base, _tag: "succeeded", output: loaded.right }
        : {
            ...base,
            _tag: "failed",
            error: `output failed its schema: ${loaded.left.message}`,
            deadLetterQueue: null,
          };
    }
    case "retrying":
      return { ...base, _tag: "retrying", error: outcome.error, runAt: outcome.runAt };
    case "failed":
      return { ...base, _tag: "failed", error: outcome.error, deadLetterQueue: outcome.deadLetterQueue };
    case "cancelled":
      return { ...base, _tag: "cancelled" };
    case "snoozed":
      // Nothing the run's readers wait for: the step runs again later.
      return undefined;
  }
};

/** The outcome a run's latest step row stands for, once that row is finished. */
export const rowOutcome = (row: TaskRow): Outcome<StepOutput> => {
  const base = {
    taskId: row.id,
    queue: row.queue,
    attempt: row.attempt,
    jobId: row.jobId,
    stepIndex: row.stepIndex,
  };
  switch (row.state) {
    case "succeeded":
      return { ...base, _tag: "succeeded", output: row.output as StepOutput };
    case "cancelled":
      return { ...base, _tag: "cancelled" };
    default:
      // A dead-lettered step's row sits in the DLQ; its outcome belongs to the queue it came from.
      return row.dlqFrom !== null && row.dlqFrom !== row.queue
        ? { ...base, queue: row.dlqFrom, _tag: "failed", error: row.error ?? "", deadLetterQueue: row.queue }
        : { ...base, _tag: "failed", error: row.error ?? "", deadLetterQueue: null };
  }
};
