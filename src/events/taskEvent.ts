/** What every event says: where and when. */
export interface EventBase {
  /** The queue the event is about (for `redriven`, the dead-letter queue tasks left). */
  readonly queue: string;
  /** When this process saw it happen (its clock). */
  readonly at: Date;
}

/** What every event about one attempt of one task says. */
export interface AttemptEventBase extends EventBase {
  /** The task's id, as `enqueue` returned it. */
  readonly taskId: string;
  /** The attempt, 1-based. */
  readonly attempt: number;
  /** Attempts the task may have in all. */
  readonly maxAttempts: number;
  /** The multi-step job run this task is a step of; null for a plain task. */
  readonly jobId: string | null;
  /** Which step of the job run, 0-based; null for a plain task. */
  readonly stepIndex: number | null;
}

/** How an attempt ended, with how long it ran (handler and the write of its result). */
export interface AttemptEndBase extends AttemptEventBase {
  /** Ms from the attempt's start to its end, as this process timed it. */
  readonly runMs: number;
}

/**
 * A lifecycle event of this process's producers and workers, on
 * `underway.events$`. Not a replacement for `outcomes$` (which every process
 * hears of, through the database): these are local, cheap, and include the
 * steps in between (a start, a lost lease, a claim's duration), for logs,
 * metrics and tracing of your own.
 *
 * An attempt gives `started`, then exactly one of `succeeded`, `retrying`,
 * `failed` (then `deadLettered` when it moved to a DLQ), `cancelled` or
 * `leaseLost`.
 */
export type TaskEvent =
  | (EventBase & {
      /**
       * Tasks were inserted (counted when the INSERT returns: inside your
       * own transaction, a rollback later still counted them).
       */
      readonly _tag: "enqueued";
      /** How many new tasks (an existing task returned for a unique key is not new). */
      readonly count: number;
      /** Their ids, in input order. */
      readonly taskIds: ReadonlyArray<string>;
    })
  | (EventBase & {
      /**
       * An enqueue was rejected because its queue was full (`maxPending`):
       * it threw a `QueueFullError` and wrote nothing.
       */
      readonly _tag: "enqueueRejected";
      /** How many new tasks the rejected enqueue would have added. */
      readonly count: number;
      /** The cap in force when it was rejected. */
      readonly cap: number;
    })
  | (EventBase & {
      /** A worker's claim statement returned (possibly nothing). */
      readonly _tag: "claimed";
      /** Tasks claimed. */
      readonly count: number;
      /** How long the claim statement took, in ms. */
      readonly durationMs: number;
    })
  | (AttemptEventBase & {
      /** An attempt starts running here. */
      readonly _tag: "started";
      /**
       * Ms from when the task was due (`run_at`) to its claim, on the
       * database clock (a prefetched task's wait for a free slot after its
       * claim is not included).
       */
      readonly waitMs: number;
    })
  | (AttemptEndBase & {
      /** The attempt succeeded and its output was written. */
      readonly _tag: "succeeded";
    })
  | (AttemptEndBase & {
      /** The attempt failed; the task runs again at `runAt`. */
      readonly _tag: "retrying";
      /** The attempt's error message. */
      readonly error: string;
      /** When the next attempt may start. */
      readonly runAt: Date;
    })
  | (AttemptEndBase & {
      /** The handler snoozed (`snooze(ms)`): the task is pending again, its attempt not spent. */
      readonly _tag: "snoozed";
      /** When it is due again. */
      readonly runAt: Date;
      /** The snooze asked for, in milliseconds. */
      readonly delayMs: number;
    })
  | (AttemptEndBase & {
      /** The task failed for good (retries exhausted, a `FatalError`, a bad input or output). */
      readonly _tag: "failed";
      /** The last attempt's error message. */
      readonly error: string;
      /** The dead-letter queue it moved to, or null. */
      readonly deadLetterQueue: string | null;
    })
  | (AttemptEventBase & {
      /** A failed task moved to its queue's dead-letter queue (right after its `failed`). */
      readonly _tag: "deadLettered";
      /** The dead-letter queue. */
      readonly deadLetterQueue: string;
    })
  | (AttemptEndBase & {
      /** The attempt ended with its task cancelled. */
      readonly _tag: "cancelled";
    })
  | (AttemptEndBase & {
      /**
       * The attempt lost its task: its lease lapsed (a missed heartbeat) or
       * another worker reclaimed it, so this worker's result was not
       * written. The reaper, here or elsewhere, ends or retries the task.
       */
      readonly _tag: "leaseLost";
    })
  | (EventBase & {
      /** This process's reaper returned tasks whose lease had expired (their worker died or hung). */
      readonly _tag: "leasesExpired";
      /** Tasks of the queue reaped. */
      readonly count: number;
    })
  | (EventBase & {
      /** Tasks moved from this dead-letter queue back to their queues (a redrive). */
      readonly _tag: "redriven";
      /** Tasks moved. */
      readonly count: number;
    });

/** The `_tag`s of {@link TaskEvent}. */
export type TaskEventTag = TaskEvent["_tag"];
