import { defineQuery } from "./query.ts";

/** One attempt of a task. */
export interface AttemptRow {
  /** The attempt's number, 1-based; it goes on counting after a redrive. */
  readonly attempt: number;
  /**
   * How it ended: `failed`, `timed_out`, `lost` (its lease expired, the
   * worker died), `cancelled` or `succeeded`; `in_progress` while it runs.
   */
  readonly state: string;
  /** The error's message; null for an attempt that succeeded or is running. */
  readonly error: string | null;
  /**
   * The thrown error's `name` (`"TypeError"`, `"FatalError"`, `"AbortError"` for
   * a timeout or shutdown, `"NonError"` for a thrown non-Error). Null when the
   * attempt did not end in the handler: it succeeded, is running, its lease
   * expired, or it was cancelled; and for attempts recorded before underway
   * stored names.
   */
  readonly errorName: string | null;
  /** The thrown error's stack, at most 16 KB; null when there was none (see `errorName`). */
  readonly errorStack: string | null;
  /** When a worker claimed the task for this attempt; null if not recorded. */
  readonly startedAt: Date | null;
  /** When the attempt ended; null while it runs. */
  readonly finishedAt: Date | null;
}

/** A task's attempts, oldest first; a successful or running attempt is read from the task row. */
export const taskAttemptsList = defineQuery<{ readonly id: string }, AttemptRow>("taskAttemptsList", ["id"]);

/** Something that happened to a task besides its attempts. */
export interface EventRow {
  /**
   * What happened: `"redriven"`, `"retried"` (an operator's retry), or
   * `"snoozed"` (the handler snoozed during attempt `attempt`, which was
   * not spent and runs again).
   */
  readonly kind: string;
  /** The task's attempt number when it happened. */
  readonly attempt: number;
  /** When it happened. */
  readonly at: Date;
  /**
   * Facts of the event; for `redriven`: `from` (the dead-letter queue),
   * `to` (the queue it went back to) and `maxAttempts` (its new budget);
   * for `snoozed`: `delayMs`, `until` (when it was due again) and
   * `snoozes` (the task's count so far).
   */
  readonly details: Readonly<Record<string, unknown>>;
}

/** What happened to a task besides its attempts, oldest first. */
export const taskEventsList = defineQuery<{ readonly id: string }, EventRow>("taskEventsList", ["id"]);
