import * as E from "fp-ts/lib/Either.js";
import type { Stored } from "../codec.ts";
import type { JobDefinition } from "../definition.ts";
import { ValidationError, messageOf, type DecodeError } from "../errors.ts";
import type { ClaimedRow } from "../db/claimQueries.ts";
import type { Continuation } from "../db/fanOutQueries.ts";
import type { WorkerStarterDeps } from "../client/clientDeps.ts";
import { noContinuation, notTransactional, type Handler } from "../worker/execute.ts";
import { isTransactional } from "../worker/transactional.ts";
import { databaseReportSink, type ReportLimits } from "../worker/attemptReport.ts";

/** The pace and bounds of a target's `ctx.progress` and `ctx.log`. */
export const reportLimitsOf = (target: RunTarget): ReportLimits => ({
  progressIntervalMs: target.progressIntervalMs,
  maxLogLines: target.maxLogLines,
  maxLogLineLength: target.maxLogLineLength,
});

/**
 * How one task type's claimed rows are run: the seam between a task type
 * (`Job`, `StepJob`) and the machinery that runs it (a worker, or
 * `runOnce`/`drain` in the calling process). A `Job` gives its handler and
 * its schemas ({@link handlerRunner}); a `StepJob` gives one handler that
 * dispatches by step index, decodes later steps' inputs as JSON, and
 * continues a run with its next step's row (src/steps/stepRunner.ts).
 */
export interface TaskRunner<V, O> {
  /** Runs one task. */
  readonly handler: Handler<V, unknown>;
  /** Decodes a claimed task's input. */
  readonly decodeInput: (value: unknown, row: ClaimedRow) => E.Either<DecodeError, V>;
  /** Checks a returned value; gives its stored form and the value readers see. */
  readonly encodeOutput: (returned: unknown, row: ClaimedRow) => Stored<O>;
  /** The next task to enqueue in the statement that completes this one (a job run's next step). */
  readonly continuation?: (output: O, row: ClaimedRow) => Continuation | undefined;
  /** Which tasks run in a transaction of their own; unset if none. */
  readonly transactional?: (row: ClaimedRow) => boolean;
}

/** What a runner runs for: a queue, where its tasks go when they fail for good, and its rate limit as defined. */
export type RunTarget = Pick<
  JobDefinition<unknown, unknown, unknown, unknown>,
  | "queue"
  | "dlq"
  | "maxPending"
  | "rateLimit"
  | "maxSnoozes"
  | "progressIntervalMs"
  | "maxLogLines"
  | "maxLogLineLength"
>;

/** The runner of a one-handler task type: its handler, checked by its definition's schemas. */
export const handlerRunner = <In, V, R, O>(
  definition: JobDefinition<In, V, R, O>,
  handler: Handler<V, R>,
): TaskRunner<V, O> => {
  const { input, output, queue } = definition;
  return {
    handler,
    decodeInput: (value) => input.load(value),
    encodeOutput: (returned) => {
      const checked = output.check(returned as R);
      if (E.isLeft(checked)) throw new ValidationError(`output of queue ${queue}`, checked.left);
      return checked.right;
    },
    ...(isTransactional(handler) ? { transactional: () => true } : {}),
  };
};

/**
 * What an attempt takes from the definition (`target`) and its runner,
 * the same for a worker, runOnce/drain and the testing kit's `perform`:
 * one mapping, so that a field added to the attempt's deps is given by
 * every caller or none (a snooze limit added by hand to one of two copies
 * was once missed in the other).
 */
export const targetDeps = <V, O>(target: RunTarget, runner: TaskRunner<V, O>) => ({
  queue: target.queue,
  dlq: target.dlq,
  maxSnoozes: target.maxSnoozes,
  decodeInput: runner.decodeInput,
  continuation: runner.continuation ?? noContinuation,
  encodeOutput: runner.encodeOutput,
  reportLimits: reportLimitsOf(target),
});

/**
 * What executing a runner's tasks needs, for a worker or a run in the
 * calling process: a runner's absent continuation or transactional rows
 * become total functions (nothing follows, none), so the attempt never
 * asks whether they exist.
 */
export const executeDeps = <V, O>(
  client: WorkerStarterDeps,
  target: RunTarget,
  runner: TaskRunner<V, O>,
) => ({
  store: client.store,
  schema: client.schema,
  pool: client.pool,
  ...targetDeps(target, runner),
  handler: runner.handler,
  log: client.log,
  listener: client.listener,
  events: client.lifecycle,
  requestReaping: client.requestReaping,
  transactional: runner.transactional ?? notTransactional,
  random: Math.random,
  reports: databaseReportSink(client, client.log),
});

/** Records the queue for redrive and inspection; tasks run whether or not that works. */
export const registerQuietly = (client: WorkerStarterDeps, target: RunTarget): void => {
  void client.register(target).catch((error: unknown) =>
    client.log.warn("could not register the queue; tasks still run", {
      queue: target.queue,
      error: messageOf(error),
    }),
  );
};

/**
 * Records the definition's rate limit on the queue's row (in force unless
 * an operator's setting is; none clears a limit an earlier definition set),
 * for a worker to await before its first claim. A failure is logged, and
 * the worker claims under whatever the row holds.
 */
export const defineRateLimitQuietly = async (client: WorkerStarterDeps, target: RunTarget): Promise<void> => {
  const result = await client.store.queuesDefineRateLimit(client.pool, {
    queue: target.queue,
    limit: target.rateLimit?.limit ?? null,
    periodMs: target.rateLimit?.periodMs ?? null,
  })();
  if (E.isLeft(result))
    client.log.warn("could not record the queue's rate limit; its workers claim under the one stored", {
      queue: target.queue,
      error: messageOf(result.left.cause),
    });
};
