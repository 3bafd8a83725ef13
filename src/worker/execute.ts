import * as E from "fp-ts/lib/Either.js";
import * as T from "fp-ts/lib/Task.js";
import { pipe } from "fp-ts/lib/function.js";
import type pg from "pg";
import { describeThrown } from "../describeThrown.ts";
import { AbortError, FatalError, type AbortKind, type DecodeError, type TaskFailure } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Stored } from "../codec.ts";
import type { OutcomeBase } from "../outcomes.ts";
import type { ClaimedRow } from "../db/claimQueries.ts";
import type { Continuation } from "../db/fanOutQueries.ts";
import type { HeartbeatRow } from "../db/leaseQueries.ts";
import type { Store } from "../db/store.ts";
import type { Completer } from "./completer.ts";
import type { TaskEvents } from "../events/taskEvents.ts";
import type { Deadlines } from "./deadlines.ts";
import type { Admissions } from "./admissions.ts";
import { TaskAbort } from "./taskAbort.ts";
import { Snooze } from "../snooze.ts";
import type { JsonValue } from "../json.ts";
import { LazyAttemptReport, type ReportLimits, type ReportSink } from "./attemptReport.ts";

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
  /**
   * Reports how far the task has come: any JSON value (a percentage, `{
   * done, total }`). Stored as the task's latest progress and sent to
   * `progress$` subscribers in every process; calls are coalesced, at most
   * one write per the definition's `progressIntervalMs` (the latest value
   * wins), and the last value is written before the attempt's result. Cheap
   * to call in a tight loop. Throws a `TypeError` for a value that is not
   * JSON (a bigint, a cycle, NaN, a NUL character: the error names where),
   * a `RangeError` past 64 KiB of JSON (UTF-8 bytes); nothing else is lost. Ignored
   * (logged once) after the attempt ended. See docs/workflows.md.
   */
  progress(value: JsonValue): void;
  /**
   * Appends a line to this attempt's log, shown by `ops.taskLogs`, the CLI
   * and the dashboard and deleted with the task. Lines are written in
   * batches (one statement per `progressIntervalMs`, the rest before the
   * attempt's result); an attempt keeps its last `maxLogLines` lines (older
   * ones are cut and counted), each at most `maxLogLineLength` characters
   * (cut, saying so); NUL characters become U+FFFD. Throws a `TypeError` if
   * `message` is not a string. Ignored (logged once) after the attempt ended.
   */
  log(message: string): void;
}

/** A task's code: resolve to succeed, throw to fail (a `FatalError` skips retries). */
export type Handler<I, O> = (input: I, context: TaskContext) => Promise<O>;

/** A claimed task inside a worker. */
export interface RunningTask {
  readonly row: ClaimedRow;
  /** Fired on timeout, cancel, lost lease or shutdown; the handler's `signal` is its. */
  readonly abort: TaskAbort;
  /**
   * Fired at shutdown past its grace period: stop waiting for a cancelled
   * handler that ignores its signal, and write nothing (the lease lapses and
   * the reaper ends the task cancelled).
   */
  readonly abandon: TaskAbort;
  started: boolean;
}

/**
 * What one attempt runs on, the same for a worker and for runOnce/drain
 * (./attempt.ts): every field given by every caller, none switching a code
 * path by its absence.
 */
export interface ExecuteDeps<I, O> {
  readonly store: Store;
  /** The schema: a worker hears of new tasks and cancels on `<schema>.ready` and `<schema>.cancel`. */
  readonly schema: string;
  readonly pool: pg.Pool;
  readonly queue: string;
  readonly dlq: string | null;
  /** How many times a task of this definition may snooze; the next `snooze` fails it (`maxSnoozes`). */
  readonly maxSnoozes: number;
  readonly decodeInput: (value: unknown, row: ClaimedRow) => E.Either<DecodeError, I>;
  /**
   * The next task to enqueue in the statement that completes this one (a
   * job's next step); undefined when the task is the last of its run, and
   * always for a plain task ({@link noContinuation}).
   */
  readonly continuation: (output: O, row: ClaimedRow) => Continuation | undefined;
  /** Checks the handler's return value and gives its stored form and the value readers will see; throws if it cannot be stored. */
  readonly encodeOutput: (returned: unknown, row: ClaimedRow) => Stored<O>;
  readonly handler: Handler<I, unknown>;
  /** Where successes are written: grouped for a worker, one at a time for runOnce/drain. */
  readonly completer: Completer;
  /**
   * Whether a task's handler runs in a transaction of its own, which also
   * writes its verdict (see ./transactionalAttempt.ts). Per row: a job's
   * steps may differ. {@link notTransactional} for a plain handler.
   */
  readonly transactional: (row: ClaimedRow) => boolean;
  readonly log: Logger;
  /** Draws the jitter of retry delays (`Math.random`, but in tests). */
  readonly random: () => number;
  /** Lifecycle events, metrics and tracing (src/events). */
  readonly events: TaskEvents;
  /** The clock retry times are computed on: the caller's scheduler's. */
  readonly now: () => number;
  /** Times handlers out on the caller's scheduler, one timer for all (./deadlines.ts). */
  readonly deadlines: Deadlines;
  /** Starts prefetched keyed tasks, grouped into one statement per turn (./admissions.ts). */
  readonly admissions: Admissions;
  /** Where `ctx.progress` and `ctx.log` write (./attemptReport.ts): the database, or perform's recorder. */
  readonly reports: ReportSink;
  /** The definition's pace and bounds of `ctx.progress` and `ctx.log`. */
  readonly reportLimits: ReportLimits;
}

/** The continuation of a task that is no job's step: nothing follows it. */
export const noContinuation = (): undefined => undefined;

/** Which rows of a plain handler run in a transaction of their own: none. */
export const notTransactional = (): boolean => false;

/** Fires a running task's signal; its reason is an `AbortError` of that kind. */
export const abortTask = (task: RunningTask, kind: AbortKind): void => task.abort.abort(new AbortError(kind));

/** Someone else writes this attempt's end: a reaper or another worker has the task, or the lease is left to lapse. */
export const isTakenAway = (task: RunningTask): boolean =>
  task.abort.reason?.kind === "lease lost" || task.abandon.aborted;

export const isCancelled = (task: RunningTask): boolean => task.abort.reason?.kind === "cancelled";

/**
 * A shutdown past its grace period reaches a running task: its signal
 * fires; but a cancelled handler still running is no longer waited for,
 * and nothing is written for it (its lease lapses, and the reaper ends the
 * task cancelled).
 */
export const stopTask = (task: RunningTask): void => {
  if (isCancelled(task)) task.abandon.abort(new AbortError("shutdown"));
  else abortTask(task, "shutdown");
};

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
    if (thrown instanceof Snooze)
      return {
        _tag: "Snoozed",
        name: thrown.name,
        message: thrown.message,
        stack: null,
        snoozeMs: thrown.delayMs,
      };
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
const runHandler = <I, O>(
  deps: ExecuteDeps<I, O>,
  task: RunningTask,
  input: I,
  report: LazyAttemptReport,
): Promise<E.Either<TaskFailure, unknown>> => {
  const { row, abort } = task;
  const timedOut = () => abort.abort(new AbortError("timeout", `timed out after ${row.timeoutMs} ms`));
  const cancelTimer = deps.deadlines.after(row.timeoutMs, timedOut);
  const context: TaskContext = {
    taskId: row.id,
    queue: deps.queue,
    attempt: row.attempt,
    maxAttempts: row.maxAttempts,
    // Made when read: most handlers never do (./taskAbort.ts).
    get signal() {
      return abort.signal;
    },
    jobId: row.jobId,
    stepIndex: row.stepIndex,
    progress: (value) => report.get().progress(value),
    log: (message) => report.get().log(message),
  };
  return new Promise<E.Either<TaskFailure, unknown>>((settle) => {
    const settleAborted = () => settle(E.left(failureOfAbort(abort.reason ?? new AbortError("shutdown"))));
    if (abort.aborted) return settleAborted();
    let stopAbandon: (() => void) | undefined;
    // Whatever the handler returns after a cancel, the task ends cancelled
    // (the database's task_cancel_wins trigger sees to that).
    const stopAbort = abort.onAbort(() => {
      if (abort.reason?.kind !== "cancelled") return settleAborted();
      stopAbandon = task.abandon.onAbort(settleAborted);
    });
    let returned: Promise<unknown>;
    try {
      returned = Promise.resolve(deps.events.within(task, () => deps.handler(input, context)));
    } catch (thrown: unknown) {
      returned = Promise.reject(thrown);
    }
    returned
      .then(
        (output) => settle(E.right(output)),
        (thrown: unknown) => settle(E.left(failureOfThrown(thrown))),
      )
      .finally(() => {
        stopAbort();
        stopAbandon?.();
        cancelTimer();
      });
  });
};

/** @internal Why an input that producers validated may not decode where it runs. */
export const undecodedCause = (queue: string): string =>
  `does the queue name ${queue} belong to two definitions? a task enqueued through another definition's schema does not decode here; give each definition its own queue`;

// Producers validate what they enqueue, so an input that does not decode
// here was most likely enqueued through another definition of this queue
// name (another process, another version): the message says so. It fails
// at once (to the dead-letter queue, if any): the same code would refuse it
// again.
const decodeInput = <I, O>(deps: ExecuteDeps<I, O>, row: ClaimedRow): E.Either<TaskFailure, I> =>
  pipe(
    deps.decodeInput(row.input, row),
    E.mapLeft((error): TaskFailure => ({
      _tag: "Fatal",
      name: "ValidationError",
      message: `input failed its codec: ${error.message} (${undecodedCause(deps.queue)})`,
      stack: null,
      undecoded: error.paths,
    })),
  );

const encodeOutput =
  <I, O>(deps: ExecuteDeps<I, O>, row: ClaimedRow) =>
  (returned: unknown): E.Either<TaskFailure, Success<O>> => {
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
            next: deps.continuation(value, row),
          }),
          fatal("the next step could not be enqueued"),
        ),
      ),
    );
  };

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
  if (renewed.cancelRequested) abortTask(task, "cancelled");
  return true;
};

/** What every outcome of this attempt says about its task. */
export const outcomeBaseOf = (queue: string, row: ClaimedRow): OutcomeBase => ({
  taskId: row.id,
  queue,
  attempt: row.attempt,
  jobId: row.jobId,
  stepIndex: row.stepIndex,
});

/** How an attempt ended, before it is written. */
export type Verdict<O> = E.Either<TaskFailure, Success<O>>;

/** A handler's success as it will be written: its output, stored JSON, and a job's next step. */
export interface Success<O> {
  readonly output: O;
  readonly json: string | null;
  readonly next: Continuation | undefined;
}

/**
 * The first half of an attempt, as a TaskEither: decode the input, run the
 * handler under its timeout, encode the output. Decoding and encoding are
 * synchronous Eithers, so the only asynchronous step is the handler's own
 * (one promise per attempt, not one per stage). Holds a worker slot;
 * writing the verdict does not.
 */
export const runAttempt =
  <I, O>(deps: ExecuteDeps<I, O>) =>
  (task: RunningTask): T.Task<Verdict<O>> =>
  async () => {
    deps.events.started(deps.queue, task);
    const input = decodeInput(deps, task.row);
    if (E.isLeft(input)) return input;
    const report = new LazyAttemptReport(deps, task.row);
    const returned = await runHandler(deps, task, input.right, report);
    // Progress and log lines not yet written go before the result does.
    const ending = report.end();
    if (ending !== undefined) await ending;
    return E.chain(encodeOutput(deps, task.row))(returned);
  };
