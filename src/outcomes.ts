import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import * as t from "io-ts";
import { decodeWith } from "./codec.ts";

/** What every outcome says. */
export interface OutcomeBase {
  readonly taskId: string;
  readonly queue: string;
  /** The attempt that produced this outcome (1-based). */
  readonly attempt: number;
  /** Set for tasks of multi-step jobs. */
  readonly jobId: string | null;
  readonly stepIndex: number | null;
}

/**
 * What became of a task, as every process can observe it.
 * `retrying` is not final: the task runs again at `runAt`.
 */
export type Outcome<O> =
  | (OutcomeBase & { readonly _tag: "succeeded"; readonly output: O })
  | (OutcomeBase & {
      readonly _tag: "failed";
      readonly error: string;
      /** The dead-letter queue the task was moved to, if any. */
      readonly deadLetterQueue: string | null;
    })
  | (OutcomeBase & { readonly _tag: "cancelled" })
  | (OutcomeBase & { readonly _tag: "retrying"; readonly error: string; readonly runAt: Date });

/** A final outcome: anything but `retrying`. */
export type FinalOutcome<O> = Exclude<Outcome<O>, { _tag: "retrying" }>;

export const isFinal = <O>(outcome: Outcome<O>): outcome is FinalOutcome<O> => outcome._tag !== "retrying";

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
