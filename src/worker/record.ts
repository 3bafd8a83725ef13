import * as E from "fp-ts/lib/Either.js";
import * as T from "fp-ts/lib/Task.js";
import * as TE from "fp-ts/lib/TaskEither.js";
import { pipe } from "fp-ts/lib/function.js";
import { messageOf, type DbError, type TaskFailure } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Outcome } from "../outcomes.ts";
import type { ClaimedRow } from "../db/claimQueries.ts";
import type { AttemptError, AttemptState } from "../db/completeQueries.ts";
import { errorText, maxErrorMessageLength, maxErrorNameLength, maxErrorStackLength } from "../errorText.ts";
import { retryDelayMs, retryTransient, type RetryPolicy } from "../retry.ts";
import {
  isCancelled,
  isTakenAway,
  outcomeBaseOf,
  type ExecuteDeps,
  type RunningTask,
  type Success,
  type Verdict,
  undecodedCause,
} from "./execute.ts";

// The record stage: an attempt's verdict written as the task's next state,
// fenced by the attempt number; successes through the Completer
// (./completer.ts: grouped for a worker, one by one for runOnce/drain).

// Backoff counts attempts since the last redrive, so a redriven task starts
// again at the initial interval.
const attemptInRun = (row: ClaimedRow): number =>
  row.attemptBudget === null ? row.attempt : row.attempt - (row.maxAttempts - row.attemptBudget);

const policyOf = (row: ClaimedRow): RetryPolicy => ({
  maxAttempts: row.maxAttempts,
  initialIntervalMs: row.retryInitialMs,
  maxIntervalMs: row.retryMaxMs,
  backoffCoefficient: row.retryCoefficient,
  jitter: row.retryJitter,
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

/** Why a task that snoozed once too often fails: the definition's cap, named. */
export const snoozeLimitFailure = (row: ClaimedRow, maxSnoozes: number): TaskFailure => ({
  _tag: "Fatal",
  name: "SnoozeLimitError",
  message: `snoozed ${row.snoozes} times, its definition's maxSnoozes (${maxSnoozes}): it fails rather than snooze again`,
  stack: null,
});

/**
 * Writes a snooze: back to pending, due in the delay asked for, no attempt
 * spent (tasksSnooze). Past the definition's `maxSnoozes`, a failure for
 * good instead, so a handler that always snoozes ends.
 */
const recordSnooze =
  <I, O>(deps: ExecuteDeps<I, O>, row: ClaimedRow) =>
  (failure: TaskFailure): TE.TaskEither<DbError, Outcome<O> | undefined> => {
    if (row.snoozes >= deps.maxSnoozes)
      return recordFailure(deps, row)(snoozeLimitFailure(row, deps.maxSnoozes));
    const delayMs = failure.snoozeMs ?? 0;
    return pipe(
      retryTransient(deps.store.tasksSnooze(deps.pool, { id: row.id, attempt: row.attempt, delayMs })),
      TE.map((written) =>
        written
          ? {
              ...outcomeBaseOf(deps.queue, row),
              _tag: "snoozed" as const,
              runAt: new Date(deps.now() + delayMs),
              delayMs,
              snoozes: row.snoozes + 1,
            }
          : undefined,
      ),
    );
  };

/** Writes a failure: retry by policy, or fail (and dead-letter) for good. */
const recordFailure =
  <I, O>(deps: ExecuteDeps<I, O>, row: ClaimedRow) =>
  (failure: TaskFailure): TE.TaskEither<DbError, Outcome<O> | undefined> => {
    if (failure._tag === "Snoozed") return recordSnooze(deps, row)(failure);
    const error = storedError(failure);
    const base = outcomeBaseOf(deps.queue, row);
    // An attempt cut off by a shutdown is not the task's fault: even the last
    // one goes back to pending, or a deploy would fail tasks for good.
    const final = failure._tag === "Fatal" || (failure._tag !== "Aborted" && row.attempt >= row.maxAttempts);
    if (final) {
      return pipe(
        retryTransient(
          deps.store.tasksFail(deps.pool, {
            id: row.id,
            attempt: row.attempt,
            error,
            attemptState: attemptStateOf(failure),
            dlq: deps.dlq,
          }),
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
        deps.store.tasksRetry(deps.pool, {
          id: row.id,
          attempt: row.attempt,
          error,
          delayMs,
          attemptState: attemptStateOf(failure),
        }),
      ),
      TE.map((written) =>
        written
          ? {
              ...base,
              _tag: "retrying" as const,
              error: error.message,
              runAt: new Date(deps.now() + delayMs),
            }
          : undefined,
      ),
    );
  };

const recordSuccess = async <I, O>(
  deps: ExecuteDeps<I, O>,
  row: ClaimedRow,
  { output, json, next }: Success<O>,
): Promise<E.Either<DbError, Outcome<O> | undefined>> => {
  const written = await deps.completer.complete(row.id, row.attempt, json, next)();
  if (E.isLeft(written)) return written;
  return E.right(
    written.right ? { ...outcomeBaseOf(deps.queue, row), _tag: "succeeded", output } : undefined,
  );
};

/**
 * One line per failed attempt whose end this worker wrote, so that a
 * throwing handler, a `FatalError` or an input that does not decode is seen
 * without a logger of one's own: a retry at warn, a final failure (and a
 * dead-letter) at error. Never the task's input: it may hold personal data.
 */
const logFailure = (log: Logger, failure: TaskFailure, outcome: Outcome<unknown>, row: ClaimedRow): void => {
  const details = {
    queue: outcome.queue,
    taskId: outcome.taskId,
    attempt: `${row.attempt} of ${row.maxAttempts}`,
    error:
      failure.undecoded === undefined
        ? `${failure.name}: ${failure.message}`
        : `${failure.name}: input failed its codec at ${failure.undecoded.join(", ")} (${undecodedCause(outcome.queue)})`,
  };
  if (outcome._tag === "retrying") {
    // A shutdown cut the attempt short: not the task's fault, and not news.
    if (failure._tag === "Aborted") log.info("task attempt cut short by shutdown; it runs again", details);
    else log.warn("task attempt failed; it runs again", { ...details, runAt: outcome.runAt.toISOString() });
  } else if (outcome._tag === "failed") {
    const what = failure.undecoded === undefined ? "task failed for good" : "task input did not decode";
    log.error(
      outcome.deadLetterQueue === null
        ? what
        : `${what}; moved to dead-letter queue ${outcome.deadLetterQueue}`,
      details,
    );
  }
};

/**
 * The second half: write the next state fenced by the attempt number.
 * Resolves to the outcome, or `undefined` when the write was fenced off (the
 * task was reclaimed or cancelled) or could not be made. A TaskEither folded
 * by hand rather than through combinators: it runs once per task, and each
 * combinator is a closure and a promise more (see docs/performance.md).
 */
export const recordAttempt =
  <I, O>(deps: ExecuteDeps<I, O>, task: RunningTask) =>
  (verdict: Verdict<O>): T.Task<Outcome<O> | undefined> =>
  async () => {
    const row = task.row;
    const written: E.Either<DbError, Outcome<O> | undefined> = E.isRight(verdict)
      ? await recordSuccess(deps, row, verdict.right)
      : // Whoever took the task away (a reaper, another worker) writes its
        // state; an abandoned cancel is left to the reaper. A cancel is
        // written here: the retry it asks for ends the task cancelled.
        isTakenAway(task)
        ? E.right(undefined)
        : await recordFailure(deps, row)(verdict.left)();
    if (E.isLeft(written)) {
      deps.log.error("could not record a task's result; its lease will expire and it will run again", {
        taskId: row.id,
        attempt: row.attempt,
        error: messageOf(written.left.cause),
      });
      return undefined;
    }
    const outcome = written.right;
    if (outcome !== undefined && E.isLeft(verdict)) logFailure(deps.log, verdict.left, outcome, row);
    if (outcome === undefined && !isTakenAway(task) && !isCancelled(task)) {
      deps.log.warn("task result ignored: the task was reclaimed by another worker (fenced)", {
        taskId: row.id,
        attempt: row.attempt,
      });
    }
    return outcome;
  };
