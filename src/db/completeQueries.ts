import { claimedRowsOf, type ClaimedRecord, type ClaimedRow, type ClaimParams, type Fenced } from "./claimQueries.ts";
import { firstOrNoneOf, stepColumns, type EnqueueArrays, type EnqueueColumns } from "./enqueueColumns.ts";
import { anyRow, defineQuery, idsOf } from "./query.ts";

/** A batch of successes: tasks fenced by their attempts, with their encoded outputs. */
export interface Successes extends Fenced {
  readonly outputs: ReadonlyArray<string | null>;
}

/** Fenced by (id, attempt); returns the ids actually written. */
export const tasksComplete = defineQuery<Successes, { readonly id: string }>("tasksComplete", [
  "ids",
  "attempts",
  "outputs",
]).map(idsOf);

/** What a write of successes that also claimed brought back. */
export interface CompletedAndClaimed {
  /** The ids actually completed (fenced as tasksComplete). */
  readonly completed: ReadonlyArray<string>;
  readonly claimed: ReadonlyArray<ClaimedRow>;
}

/** tasksComplete and tasksClaim in one statement: one round trip, one commit. */
export const tasksCompleteAndClaim = defineQuery<
  Successes & ClaimParams,
  { readonly completed: ReadonlyArray<string>; readonly claimed: ReadonlyArray<ClaimedRecord> }
>("tasksCompleteAndClaim", ["ids", "attempts", "outputs", "queue", "limit", "workerId", "startable"]).map(
  (rows): CompletedAndClaimed => {
    const row = rows[0];
    return row === undefined ? { completed: [], claimed: [] } : { completed: row.completed, claimed: claimedRowsOf(row.claimed) };
  },
);

type StepArrays = EnqueueArrays<typeof stepColumns>;

/**
 * Successes of job steps with a next step each: `next` holds one row per
 * task, keyed by `sourceIds` (the job id comes from the completed row).
 * Returns the ids actually completed.
 */
export const tasksCompleteAndContinue = defineQuery<
  Successes & { readonly sourceIds: ReadonlyArray<string> } & StepArrays,
  { readonly id: string }
>("tasksCompleteAndContinue", ["ids", "attempts", "outputs", "sourceIds", ...stepColumns])
  .from(
    ({ next, ...successes }: Successes & { readonly sourceIds: ReadonlyArray<string>; readonly next: EnqueueColumns }) => ({
      ...successes,
      ...next,
    }),
  )
  .map(idsOf);

/**
 * A transactional handler's success, in its own transaction (`db` is that
 * transaction's client): fenced by the attempt and by the lease, with the
 * job's next step, if any (its first row), inserted in the same statement.
 * True if written.
 */
export const tasksCompleteLeased = defineQuery<
  { readonly id: string; readonly attempt: number; readonly output: string | null } & StepArrays
>("tasksCompleteLeased", ["id", "attempt", "output", ...stepColumns])
  .from(
    ({
      next,
      ...success
    }: {
      readonly id: string;
      readonly attempt: number;
      readonly output: string | null;
      readonly next: EnqueueColumns | undefined;
    }) => ({ ...success, ...firstOrNoneOf(stepColumns, next) }),
  )
  .map(anyRow);

/** How an attempt that did not succeed ended. */
export type AttemptState = "failed" | "timed_out" | "lost" | "cancelled";

/** A failed attempt's error as stored: already cleaned and bounded (see errorText.ts). */
export interface AttemptError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | null;
}

/** An attempt that ended in an error, fenced by its number. */
export interface Failure {
  readonly id: string;
  readonly attempt: number;
  readonly error: AttemptError;
  readonly attemptState: AttemptState;
}

interface StoredError {
  readonly errorMessage: string;
  readonly errorName: string;
  readonly errorStack: string | null;
}

const storedError = ({ message, name, stack }: AttemptError): StoredError => ({
  errorMessage: message,
  errorName: name,
  errorStack: stack,
});

/** Back to pending after `delayMs`, the attempt recorded; true if written (the fence held). */
export const tasksRetry = defineQuery<
  Omit<Failure, "error"> & StoredError & { readonly delayMs: number },
  { readonly task_id: string }
>("tasksRetry", ["errorMessage", "delayMs", "id", "attempt", "attemptState", "errorName", "errorStack"])
  .from(({ error, ...failure }: Failure & { readonly delayMs: number }) => ({
    ...failure,
    ...storedError(error),
  }))
  .map(anyRow);

/**
 * Back to pending after `delayMs` without spending the attempt (a handler's
 * `snooze`), recorded as a `snoozed` event; true if written (the fence
 * held and no cancel was requested: then the task ended cancelled).
 */
export const tasksSnooze = defineQuery<
  { readonly id: string; readonly attempt: number; readonly delayMs: number },
  { readonly task_id: string }
>("tasksSnooze", ["delayMs", "id", "attempt"]).map(anyRow);

/** Failed for good, into `dlq` when set; true if written (the fence held). */
export const tasksFail = defineQuery<
  Omit<Failure, "error"> & StoredError & { readonly dlq: string | null },
  { readonly task_id: string }
>("tasksFail", ["id", "attempt", "errorMessage", "dlq", "attemptState", "errorName", "errorStack"])
  .from(({ error, ...failure }: Failure & { readonly dlq: string | null }) => ({
    ...failure,
    ...storedError(error),
  }))
  .map(anyRow);
