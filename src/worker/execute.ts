import * as E from "fp-ts/lib/Either.js";
import * as T from "fp-ts/lib/Task.js";
import * as TE from "fp-ts/lib/TaskEither.js";
import { pipe } from "fp-ts/lib/function.js";
import type pg from "pg";
import { asyncScheduler, type SchedulerLike } from "rxjs";
import { describeThrown } from "../describeThrown.ts";
import {
  AbortError,
  FatalError,
  messageOf,
  type AbortKind,
  type DbError,
  type DecodeError,
  type TaskFailure,
} from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Stored } from "../codec.ts";
import type { Outcome, OutcomeBase } from "../outcomes.ts";
import {
  tasksFail,
  tasksRetry,
  type AttemptError,
  type AttemptState,
  type ClaimedRow,
  type EnqueueColumns,
  type HeartbeatRow,
  type Sql,
} from "../queries.ts";
import { errorText, maxErrorMessageLength, maxErrorNameLength, maxErrorStackLength } from "../errorText.ts";
import { retryDelayMs, retryTransient, type RetryPolicy } from "../retry.ts";
import type { Completions } from "./completions.ts";
import type { TaskEvents } from "../events/taskEvents.ts";

/** What a handler is told about the attempt it runs. */
export interface TaskContext {
  /** The task's id, as `enqueue` returned it (a bigint as a decimal string). */
  readonly taskId: string;
  /** The queue the task was claimed from. */
  readonly queue: string;
  /** 1-based; counts every attempt, lost ones included. */
  readonly attempt: number;
  /**
   * Attempts the task may have in all: when `attempt` equals it, a failure
   * is final (dead-lettered if the queue has a DLQ). A redrive raises it.
   */
  readonly maxAttempts: number;
  /**
   * Fires on timeout, cancellation, lost lease, or shutdown past its grace
   * period. Its `reason` is an {@link AbortError} whose `kind` says which.
   */
  readonly signal: AbortSignal;
  /** The multi-step job run this task is a step of; null for a plain task. */
  readonly jobId: string | null;
  /** Which step of the job run this task is, 0-based; null for a plain task. */
  readonly stepIndex: number | null;
}

/** A task's code: resolve to succeed, throw to fail (a `FatalError` skips retries). */
export type Handler<I, O> = (input: I, context: TaskContext) => Promise<O>;

/** A claimed task inside a worker. */
export interface RunningTask {
  readonly row: ClaimedRow;
  readonly controller: AbortController;
  /**
   * Fired at shutdown past its grace period: stop waiting for a cancelled
   * handler that ignores its signal, and write nothing (the lease lapses and
   * the reaper ends the task cancelled).
   */
  readonly abandon: AbortController;
  started: boolean;
}

export interface ExecuteDeps<I, O> {
  readonly sql: Sql;
  readonly pool: pg.Pool;
  readonly queue: string;
  readonly dlq: string | null;
  readonly decodeInput: (value: unknown, row: ClaimedRow) => E.Either<DecodeError, I>;
  /** For job steps: the next step to enqueue in the statement that completes this one. */
  readonly continuation?: (output: O, row: ClaimedRow) => EnqueueColumns | undefined;
  /** Checks the handler's return value and gives its stored form and the value readers will see; throws if it cannot be stored. */
  readonly encodeOutput: (returned: unknown, row: ClaimedRow) => Stored<O>;
  readonly handler: Handler<I, unknown>;
  readonly completions: Completions;
  /**
   * Whether a task's handler runs in a transaction of its own, which also
   * writes its verdict (see ./transactionalAttempt.ts). Per row: a job's
   * steps may differ.
   */
  readonly transactional?: (row: ClaimedRow) => boolean;
  readonly log: Logger;
  readonly random?: () => number;
  /** Lifecycle events, metrics and tracing (src/events). */
  readonly events: TaskEvents;
  /** The clock retry times are computed on; a worker passes its scheduler's. Default `Date.now`. */
  readonly now?: () => number;
  /** Runs handler timeouts; a worker passes its own, so tests run on virtual time. Default: asyncScheduler. */
  readonly scheduler?: SchedulerLike;
}

/** Only the worker aborts a task's controller, always with an `AbortError`. */
const abortErrorOf = (signal: AbortSignal): AbortError | undefined =>
  signal.aborted && signal.reason instanceof AbortError ? signal.reason : undefined;

/** Fires a running task's signal; its reason is an `AbortError` of that kind. */
export const abortTask = (task: RunningTask, kind: AbortKind): void =>
  task.controller.abort(new AbortError(kind));

/** Someone else writes this attempt's end: a reaper or another worker has the task, or the lease is left to lapse. */
const isTakenAway = (task: RunningTask): boolean =>
  abortErrorOf(task.controller.signal)?.kind === "lease lost" || task.abandon.signal.aborted;

export const isCancelled = (task: RunningTask): boolean =>
  abortErrorOf(task.controller.signal)?.kind === "cancelled";

// The handler's stack says nothing about why the signal fired.
export const failureOfAbort = (reason: AbortError): TaskFailure => ({
  _tag: reason.kind === "timeout" ? "TimedOut" : "Aborted",
  name: reason.name,
  message: reason.message,
  stack: null,
});

/**
 * A thrown value as a failure. Total: a value whose every property access
 * throws (a hostile Proxy) is still a retryable failure, never an exception
 * that would leave the task running and the worker unable to stop.
 */
const failureOfThrown = (thrown: unknown): TaskFailure => {
  let fatal = false;
  try {
    fatal = thrown instanceof FatalError;
  } catch {
    // A Proxy whose getPrototypeOf trap throws is no FatalError.
  }
  return { _tag: fatal ? "Fatal" : "Retryable", ...describeThrown(thrown) };
};

/**
 * Runs the handler under the task's timeout. Settles as soon as the signal
 * fires, even if the handler ignores it, so a hung handler cannot hold a
 * worker slot forever; except on a cancel, which waits for the handler to
 * really end (or for shutdown to abandon it): the task keeps its lease and
 * its concurrency key's slot meanwhile, so a handler that ignores the
 * signal never runs beside another task of its key.
 */
const runHandler =
  <I, O>(deps: ExecuteDeps<I, O>, task: RunningTask) =>
  (input: I): TE.TaskEither<TaskFailure, unknown> =>
  () => {
    const { row, controller } = task;
    const signal = controller.signal;
    const timer = (deps.scheduler ?? asyncScheduler).schedule(
      () => controller.abort(new AbortError("timeout", `timed out after ${row.timeout_ms} ms`)),
      row.timeout_ms,
    );
    const context: TaskContext = {
      taskId: row.id,
      queue: deps.queue,
      attempt: row.attempt,
      maxAttempts: row.max_attempts,
      signal,
      jobId: row.job_id,
      stepIndex: row.step_index,
    };
    return new Promise<E.Either<TaskFailure, unknown>>((settle) => {
      const settleAborted = () =>
        settle(E.left(failureOfAbort(abortErrorOf(signal) ?? new AbortError("shutdown"))));
      if (signal.aborted) return settleAborted();
      // Whatever the handler returns after a cancel, the task ends cancelled
      // (the database's task_cancel_wins trigger sees to that).
      const onAbort = () => {
        if (abortErrorOf(signal)?.kind !== "cancelled") return settleAborted();
        task.abandon.signal.addEventListener("abort", settleAborted, { once: true });
      };
      signal.addEventListener("abort", onAbort, { once: true });
      Promise.resolve()
        .then(() => deps.events.within(task, () => deps.handler(input, context)))
        .then(
          (output) => settle(E.right(output)),
          (thrown: unknown) => settle(E.left(failureOfThrown(thrown))),
        )
        .finally(() => {
          signal.removeEventListener("abort", onAbort);
          task.abandon.signal.removeEventListener("abort", settleAborted);
        });
    }).finally(() => timer.unsubscribe());
  };

const decodeInput =
  <I, O>(deps: ExecuteDeps<I, O>) =>
  (row: ClaimedRow): TE.TaskEither<TaskFailure, I> =>
    TE.fromEither(
      pipe(
        deps.decodeInput(row.input, row),
        E.mapLeft((error): TaskFailure => ({
          _tag: "Fatal",
          name: "ValidationError",
          message: `input failed its codec: ${error.message}`,
          stack: null,
        })),
      ),
    );

const encodeOutput =
  <I, O>(deps: ExecuteDeps<I, O>, row: ClaimedRow) =>
  (returned: unknown): TE.TaskEither<TaskFailure, Success<O>> => {
    const fatal =
      (what: string) =>
      (thrown: unknown): TaskFailure => {
        const error = describeThrown(thrown);
        return { ...error, _tag: "Fatal", message: `${what}: ${error.message}` };
      };
    return pipe(
      E.tryCatch(() => deps.encodeOutput(returned, row), fatal("output could not be serialised")),
      // A job's next step is built here, with the output: options it cannot
      // accept fail this attempt, instead of the write after it.
      E.chain(({ value, json }) =>
        E.tryCatch(
          (): Success<O> => ({
            output: value,
            json,
            next: deps.continuation?.(value, row),
          }),
          fatal("the next step could not be enqueued"),
        ),
      ),
      TE.fromEither,
    );
  };

// Backoff counts attempts since the last redrive, so a redriven task starts
// again at the initial interval.
const attemptInRun = (row: ClaimedRow): number =>
  row.attempt_budget === null ? row.attempt : row.attempt - (row.max_attempts - row.attempt_budget);

const policyOf = (row: ClaimedRow): RetryPolicy => ({
  maxAttempts: row.max_attempts,
  initialIntervalMs: row.retry_initial_ms,
  maxIntervalMs: row.retry_max_ms,
  backoffCoefficient: row.retry_coefficient,
  jitter: row.retry_jitter,
});

// A cancelled attempt is recorded by the cancel itself, never here.
const attemptStateOf = (failure: TaskFailure): AttemptState =>
  failure._tag === "TimedOut" ? "timed_out" : "failed";

/** The failure as written: cleaned and bounded however it was made. */
const storedError = (failure: TaskFailure): AttemptError => ({
  name: errorText(failure.name, maxErrorNameLength),
  message: errorText(failure.message, maxErrorMessageLength),
  stack: failure.stack === null ? null : errorText(failure.stack, maxErrorStackLength),
});

/**
 * What a lease renewal tells a running task: the lease was lost (its
 * signal fires), or kept, with a cancel request its process may have missed
 * the NOTIFY of (its signal fires too). Whether the lease was kept.
 */
export const applyRenewal = (task: RunningTask, renewed: HeartbeatRow | undefined): boolean => {
  if (renewed === undefined) {
    abortTask(task, "lease lost");
    return false;
  }
  if (renewed.cancel_requested) abortTask(task, "cancelled");
  return true;
};

/** What every outcome of this attempt says about its task. */
export const outcomeBaseOf = (queue: string, row: ClaimedRow): OutcomeBase => ({
  taskId: row.id,
  queue,
  attempt: row.attempt,
  jobId: row.job_id,
  stepIndex: row.step_index,
});

/** Writes a failure: retry by policy, or fail (and dead-letter) for good. */
const recordFailure =
  <I, O>(deps: ExecuteDeps<I, O>, row: ClaimedRow) =>
  (failure: TaskFailure): TE.TaskEither<DbError, Outcome<O> | undefined> => {
    const error = storedError(failure);
    const base = outcomeBaseOf(deps.queue, row);
    // An attempt cut off by a shutdown is not the task's fault: even the last
    // one goes back to pending, or a deploy would fail tasks for good.
    const final = failure._tag === "Fatal" || (failure._tag !== "Aborted" && row.attempt >= row.max_attempts);
    if (final) {
      return pipe(
        retryTransient(
          tasksFail(deps.sql, deps.pool, row.id, row.attempt, error, attemptStateOf(failure), deps.dlq),
        ),
        TE.map((written) =>
          written
            ? { ...base, _tag: "failed" as const, error: error.message, deadLetterQueue: deps.dlq }
            : undefined,
        ),
      );
    }
    // A shutdown is not the task's fault: run it again at once elsewhere.
    const delayMs =
      failure._tag === "Aborted" ? 0 : retryDelayMs(policyOf(row), attemptInRun(row), deps.random);
    return pipe(
      retryTransient(
        tasksRetry(deps.sql, deps.pool, row.id, row.attempt, error, delayMs, attemptStateOf(failure)),
      ),
      TE.map((written) =>
        written
          ? {
              ...base,
              _tag: "retrying" as const,
              error: error.message,
              runAt: new Date((deps.now ?? Date.now)() + delayMs),
            }
          : undefined,
      ),
    );
  };

const recordSuccess =
  <I, O>(deps: ExecuteDeps<I, O>, row: ClaimedRow) =>
  ({ output, json, next }: Success<O>): TE.TaskEither<DbError, Outcome<O> | undefined> =>
    pipe(
      deps.completions.complete(row.id, row.attempt, json, next),
      TE.map((written) =>
        written ? { ...outcomeBaseOf(deps.queue, row), _tag: "succeeded" as const, output } : undefined,
      ),
    );

/** How an attempt ended, before it is written. */
export type Verdict<O> = E.Either<TaskFailure, Success<O>>;

/** A handler's success as it will be written: its output, stored JSON, and a job's next step. */
export interface Success<O> {
  readonly output: O;
  readonly json: string | null;
  readonly next: EnqueueColumns | undefined;
}

/**
 * The first half of an attempt, as a TaskEither pipeline: decode the input,
 * run the handler under its timeout, encode the output. Holds a worker
 * slot; writing the verdict does not.
 */
export const runAttempt =
  <I, O>(deps: ExecuteDeps<I, O>) =>
  (task: RunningTask): T.Task<Verdict<O>> =>
    pipe(
      TE.rightIO<TaskFailure, ClaimedRow>(() => {
        deps.events.started(deps.queue, task);
        return task.row;
      }),
      TE.chain(decodeInput(deps)),
      TE.chain(runHandler(deps, task)),
      TE.chain(encodeOutput(deps, task.row)),
    );

/**
 * The second half: write the next state fenced by the attempt number.
 * Resolves to the outcome, or `undefined` when the write was fenced off (the
 * task was reclaimed or cancelled) or could not be made.
 */
export const recordAttempt =
  <I, O>(deps: ExecuteDeps<I, O>, task: RunningTask) =>
  (verdict: Verdict<O>): T.Task<Outcome<O> | undefined> => {
    const row = task.row;
    return pipe(
      T.of(verdict),
      T.chain(
        E.fold(
          (failure) =>
            // Whoever took the task away (a reaper, another worker) writes its
            // state; an abandoned cancel is left to the reaper. A cancel is
            // written here: the retry it asks for ends the task cancelled.
            isTakenAway(task)
              ? TE.right<DbError, Outcome<O> | undefined>(undefined)
              : recordFailure(deps, row)(failure),
          recordSuccess(deps, row),
        ),
      ),
      T.map(
        E.fold(
          (error) => {
            deps.log.error("could not record a task's result; its lease will expire and it will run again", {
              taskId: row.id,
              attempt: row.attempt,
              error: messageOf(error.cause),
            });
            return undefined;
          },
          (outcome) => {
            if (outcome === undefined && !isTakenAway(task) && !isCancelled(task)) {
              deps.log.warn("task result ignored: the task was reclaimed by another worker (fenced)", {
                taskId: row.id,
                attempt: row.attempt,
              });
            }
            return outcome;
          },
        ),
      ),
    );
  };
