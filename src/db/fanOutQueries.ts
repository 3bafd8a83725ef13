import { enqueueColumns, type EnqueueArrays, type EnqueueColumns } from "./enqueueColumns.ts";
import type { JobFanOut } from "../ops/batchInfo.ts";
import { defineQuery } from "./query.ts";

/** What happens to a fan-out's job when a child fails, is cancelled or is dead-lettered. */
export type FanOutPolicy = "fail" | "continue";

/**
 * A step's fan-out as the statement that completes the step writes it
 * (db/queries/tasksCompleteAndFanOut.sql): the children's rows, in order,
 * with their queues; the job's next step (its index and its task columns as
 * JSON, by the names of EnqueueColumns); the policy; and how long the batch
 * is kept once complete.
 */
export interface FanOutWrite {
  /** Discriminant: a completion's continuation is a next step's columns or this. */
  readonly _tag: "fanOut";
  readonly policy: FanOutPolicy;
  readonly nextStepIndex: number;
  /** The next step's task columns as JSON (see fan_out_next_step in 0023_fan_in.sql). */
  readonly nextStep: string;
  readonly batchTtlMs: number;
  /** One queue per child, in the order listed. */
  readonly queues: ReadonlyArray<string>;
  /** One row per child, in the order listed. */
  readonly children: EnqueueColumns;
}

/** What follows a step's success in the statement that writes it: its next step's row, or a fan-out. */
export type Continuation = EnqueueColumns | FanOutWrite;

/** Whether a continuation is a fan-out. */
export const isFanOut = (next: Continuation): next is FanOutWrite => "_tag" in next;

type ChildArrays = EnqueueArrays<typeof enqueueColumns>;

/** One fenced success that fans out; its id and the batch's when written (no row when fenced off or cancelled). */
export const tasksCompleteAndFanOut = defineQuery<
  {
    readonly ids: ReadonlyArray<string>;
    readonly attempts: ReadonlyArray<number>;
    readonly outputs: ReadonlyArray<string | null>;
    readonly queues: ReadonlyArray<string>;
    readonly batchTtlMs: number;
    readonly nextStepIndex: number;
    readonly policy: FanOutPolicy;
    readonly nextStep: string;
  } & ChildArrays,
  { readonly id: string; readonly batchId: string }
>("tasksCompleteAndFanOut", [
  "ids",
  "attempts",
  "outputs",
  "queues",
  "batchTtlMs",
  ...enqueueColumns,
  "nextStepIndex",
  "policy",
  "nextStep",
])
  .from(
    ({
      id,
      attempt,
      output,
      fanOut,
    }: {
      readonly id: string;
      readonly attempt: number;
      readonly output: string | null;
      readonly fanOut: FanOutWrite;
    }) => ({
      ids: [id],
      attempts: [attempt],
      outputs: [output],
      queues: fanOut.queues,
      batchTtlMs: fanOut.batchTtlMs,
      nextStepIndex: fanOut.nextStepIndex,
      policy: fanOut.policy,
      nextStep: fanOut.nextStep,
      ...fanOut.children,
    }),
  )
  .map((rows) => rows[0]);

/** A job's waiting fan-out cancelled with it: how many tasks (children and its next step; 0: none waiting). */
export const fanOutsCancel = defineQuery<
  { readonly jobId: string; readonly queue: string | null },
  { readonly cancelled: number }
>("fanOutsCancel", ["jobId", "queue"]).map((rows) => rows[0]?.cancelled ?? 0);

/** A batch's fan-out, as ops.batch shows it. */
export interface FanOutRow {
  /** The waiting job. */
  readonly jobId: string;
  /** The job's queue. */
  readonly queue: string;
  /** The step task that fanned out. */
  readonly parentTaskId: string;
  /** The step the children's results go to, 0-based. */
  readonly stepIndex: number;
  readonly policy: FanOutPolicy;
  /** null while waiting; then how it settled. */
  readonly settled: "continued" | "failed" | "cancelled" | null;
  readonly settledAt: Date | null;
  /** The next step's task (pending, or ended failed or cancelled with the fan-out). */
  readonly nextTaskId: string | null;
  /** Why a fan-out failed or was cancelled. */
  readonly error: string | null;
}

/** The fan-out of one batch, or undefined. */
export const fanOutsGet = defineQuery<{ readonly batchId: string }, FanOutRow>("fanOutsGet", ["batchId"]).map(
  (rows) => rows[0],
);

/** A job's fan-outs, oldest first. */
// Its rows are ops.fanOuts' answer as they are: one type, not a copy.
export const fanOutsOfJob = defineQuery<{ readonly jobId: string }, JobFanOut>("fanOutsOfJob", ["jobId"]);
