import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import * as t from "io-ts";
import { decodeWith } from "./codec.ts";

/** What every outcome says. */
export interface OutcomeBase {
  /** The task's id, as `enqueue` returned it. */
  readonly taskId: string;
  /**
   * The task's queue; for a task moved to a dead-letter queue, still the
   * queue it came from (see `deadLetterQueue`).
   */
  readonly queue: string;
  /** The attempt that produced this outcome (1-based). */
  readonly attempt: number;
  /** The job run's id, for tasks of multi-step jobs; null for a plain task. */
  readonly jobId: string | null;
  /** Which step of the job run, 0-based; null for a plain task. */
  readonly stepIndex: number | null;
}

/**
 * What became of a task, as every process can observe it.
 * `retrying` is not final: the task runs again at `runAt`.
 */
export type Outcome<O> =
  | (OutcomeBase & {
      /** The handler resolved and its output was stored. */
      readonly _tag: "succeeded";
      /** The handler's output, decoded with the definition's output schema. */
      readonly output: O;
    })
  | (OutcomeBase & {
      /**
       * Failed for good: retries exhausted, a `FatalError`, or an output that
       * failed its schema.
       */
      readonly _tag: "failed";
      /** The last attempt's error message. */
      readonly error: string;
      /** The dead-letter queue the task was moved to; null when the queue has none. */
      readonly deadLetterQueue: string | null;
    })
  | (OutcomeBase & {
      /** Cancelled before it finished; it will not run (again). */
      readonly _tag: "cancelled";
    })
  | (OutcomeBase & {
      /** An attempt failed and the task will run again. Not final. */
      readonly _tag: "retrying";
      /** The failed attempt's error message. */
      readonly error: string;
      /** When the next attempt may start (after the retry policy's backoff). */
      readonly runAt: Date;
    })
  | (OutcomeBase & {
      /**
       * The handler snoozed (`snooze(ms)`): the task is pending again, its
       * attempt not spent (`attempt` runs again). Not final; seen only by
       * the process that ran it (a worker's outcomes, `runOnce`), never by
       * outcome streams of other processes, which hear of final outcomes.
       */
      readonly _tag: "snoozed";
      /** When it is due again. */
      readonly runAt: Date;
      /** The snooze asked for, in milliseconds. */
      readonly delayMs: number;
      /** How many times the task has snoozed, this one included. */
      readonly snoozes: number;
    });

/** A final outcome: anything but `retrying` and `snoozed`. */
export type FinalOutcome<O> = Exclude<
  Outcome<O>,
  {
    /** The outcomes that are not final. */
    _tag: "retrying" | "snoozed";
  }
>;

/** Whether the outcome is final (anything but `retrying` and `snoozed`); narrows it to {@link FinalOutcome}. */
export const isFinal = <O>(outcome: Outcome<O>): outcome is FinalOutcome<O> =>
  outcome._tag !== "retrying" && outcome._tag !== "snoozed";

/** The NOTIFY payload of the `task_changed` trigger (see db/migrations). */
export const OutcomePayload = t.intersection([
  t.type({
    id: t.string,
    queue: t.string,
    state: t.keyof({ pending: null, succeeded: null, failed: null, cancelled: null, in_progress: null }),
    attempt: t.number,
    runAt: t.string,
  }),
  t.partial({
    output: t.unknown,
    error: t.union([t.string, t.null]),
    jobId: t.union([t.string, t.null]),
    stepIndex: t.union([t.number, t.null]),
    dlqFrom: t.union([t.string, t.null]),
    truncated: t.boolean,
  }),
]);
export type OutcomePayload = t.TypeOf<typeof OutcomePayload>;

export const decodeOutcomePayload = decodeWith(OutcomePayload);

/** The same facts read from the task row (`tasksGet`). */
export interface OutcomeSource {
  readonly id: string;
  readonly queue: string;
  readonly state: string;
  readonly attempt: number;
  readonly output?: unknown;
  readonly error?: string | null;
  readonly runAt: string | Date;
  readonly jobId?: string | null;
  readonly stepIndex?: number | null;
  readonly dlqFrom?: string | null;
}

/**
 * Turns a payload or row into an outcome, decoding the output with the
 * job's output codec; `undefined` for states that are not outcomes.
 */
export const toOutcome = <O>(
  source: OutcomeSource,
  decodeOutput: (value: unknown) => E.Either<unknown, O>,
): Outcome<O> | undefined => {
  const base: OutcomeBase = {
    taskId: source.id,
    queue: source.queue,
    attempt: source.attempt,
    jobId: source.jobId ?? null,
    stepIndex: source.stepIndex ?? null,
  };
  switch (source.state) {
    case "succeeded":
      return pipe(
        decodeOutput(source.output ?? null),
        E.fold(
          (): Outcome<O> => ({
            ...base,
            _tag: "failed",
            error: "output failed its codec",
            deadLetterQueue: null,
          }),
          (output): Outcome<O> => ({ ...base, _tag: "succeeded", output }),
        ),
      );
    case "failed": {
      // A dead-lettered task's row now sits in the DLQ; its outcome still
      // belongs to the queue it came from.
      const deadLettered = typeof source.dlqFrom === "string" && source.dlqFrom !== source.queue;
      return {
        ...base,
        queue: deadLettered ? (source.dlqFrom as string) : source.queue,
        _tag: "failed",
        error: source.error ?? "",
        deadLetterQueue: deadLettered ? source.queue : null,
      };
    }
    case "cancelled":
      return { ...base, _tag: "cancelled" };
    case "pending":
      return { ...base, _tag: "retrying", error: source.error ?? "", runAt: new Date(source.runAt) };
    default:
      return undefined;
  }
};
