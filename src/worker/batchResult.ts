import { UnderwayError } from "../errors.ts";
import { snooze } from "../snooze.ts";
import type { TaskContext } from "./execute.ts";

/** One task of a batch, as a batch handler receives it: its decoded input and its own context. */
export interface BatchTask<I> {
  /** The task's input, decoded by its definition's schema. */
  readonly input: I;
  /**
   * The task's own context, as a one-task handler gets it: `taskId`,
   * `attempt`, `maxAttempts`, and a `signal` that fires for this task alone
   * (its cancel, its timeout, its lost lease, a shutdown past the grace period).
   */
  readonly context: TaskContext;
}

/**
 * One task's result in a batch: its output (checked by the definition's
 * output schema, as a one-task handler's), or the error it failed with (a
 * `FatalError` skips its retries; anything else is retried by its policy).
 * Make them with {@link BatchResult.ok} and {@link BatchResult.fail}.
 */
export type BatchResult<O> =
  | {
      /** Discriminant: the task succeeded. */
      readonly ok: true;
      /** Its output. */
      readonly output: O;
    }
  | {
      /** Discriminant: the task failed. */
      readonly ok: false;
      /** What it failed with, as a one-task handler would throw it. */
      readonly error: unknown;
    };

/**
 * Makes {@link BatchResult} values.
 *
 * @example
 * const results = tasks.map(({ input }) =>
 *   input.email.includes("@") ? BatchResult.ok({ sent: true }) : BatchResult.fail(new FatalError("no address")),
 * );
 */
export const BatchResult = {
  /** The task succeeded with `output`. */
  ok: <O>(output: O): BatchResult<O> => ({ ok: true, output }),
  /** The task failed with `error`: a `FatalError` skips its retries, anything else is retried by its policy. */
  fail: (error: unknown): BatchResult<never> => ({ ok: false, error }),
  /**
   * The task snoozes (see `snooze`): back to pending for `ms`, no attempt
   * spent. `ms` out of range fails the task with the `RangeError` `snooze` throws.
   */
  snooze: (ms: number): BatchResult<never> => {
    try {
      return snooze(ms);
    } catch (thrown: unknown) {
      return { ok: false, error: thrown };
    }
  },
} as const;

/**
 * A task of a batch got no usable result: the handler returned an array of
 * the wrong length (results are matched by position, so none is taken and
 * every task of the batch fails), a Map without the task's id, or something
 * that is not a {@link BatchResult}. Retryable: each task so failed is
 * retried by its own policy, never taken as a success.
 */
export class BatchResultError extends UnderwayError {
  /** Always `"BatchResultError"`; stored as the attempt's `errorName`. */
  override readonly name = "BatchResultError";
}

/**
 * A handler of many tasks at once (`job.startBatch`): it gets up to
 * `batchSize` tasks and returns one {@link BatchResult} per task, either an
 * array in the order of `tasks` or a Map from `context.taskId`. Throwing
 * (or rejecting) fails every task of the batch, each retried by its own policy.
 */
export type BatchHandler<I, O> = (
  tasks: ReadonlyArray<BatchTask<I>>,
) => Promise<ReadonlyArray<BatchResult<O>> | ReadonlyMap<string, BatchResult<O>>>;
