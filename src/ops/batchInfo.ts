import type { JsonValue } from "../json.ts";
import { checkBatchId, checkJobId } from "../identifier.ts";
import { orThrow } from "../errors.ts";
import type { OpsDeps } from "../client/clientDeps.ts";

/** A batch as `ops.batch(id)` reports it (see docs/workflows.md#batches). */
export interface BatchInfo {
  /** The batch's id. */
  readonly id: string;
  /** The members' queue. */
  readonly queue: string;
  /** How many members it has. */
  readonly total: number;
  /** Members that succeeded. */
  readonly succeeded: number;
  /** Members that failed for good (dead-lettered ones among them). */
  readonly failed: number;
  /** Members cancelled, or deleted by ops before they ended. */
  readonly cancelled: number;
  /** Members not ended yet (pending or running): `total` less the ended. */
  readonly remaining: number;
  /** The first 1,000 members that failed, in the order they failed. */
  readonly failedIds: ReadonlyArray<string>;
  /** The context given to `enqueueBatch`, or null. */
  readonly context: JsonValue;
  /** The callback's queue, or null when the batch has none. */
  readonly callbackQueue: string | null;
  /** The callback task's id once enqueued (the batch complete), else null. */
  readonly callbackTaskId: string | null;
  /** When it was enqueued. */
  readonly createdAt: Date;
  /** When its last member ended (null: not yet). */
  readonly completedAt: Date | null;
  /** When retention deletes its row (its completion plus its members' ttl), or null while it runs. */
  readonly expiresAt: Date | null;
  /**
   * Set when the batch is the children of a step's `fanOut`: the job
   * waiting for them (its `queue` is the batch's), and how it settled.
   */
  readonly fanOut?: FanOutInfo;
}

/** The fan-out a batch of children continues (see docs/workflows.md#fan-out-and-fan-in). */
export interface FanOutInfo {
  /** The parent job. */
  readonly jobId: string;
  /** The step task that fanned out. */
  readonly parentTaskId: string;
  /** The step that receives the children's results, 0-based. */
  readonly stepIndex: number;
  /** What a failed child does to the job. */
  readonly policy: "fail" | "continue";
  /** null while it waits; `continued` (the next step enqueued), `failed` (a child failed) or `cancelled` (the job was). */
  readonly settled: "continued" | "failed" | "cancelled" | null;
  /** When it settled. */
  readonly settledAt: Date | null;
  /** The next step's task: pending once continued, or ended failed or cancelled with the fan-out. */
  readonly nextTaskId: string | null;
  /** Why it failed (which child, and its error) or `cancelled`. */
  readonly error: string | null;
}

/** One batch, or undefined when there is none with this id (never created, or deleted by retention). */
export const batchInfo = async (
  deps: Pick<OpsDeps, "store" | "pool">,
  id: string,
): Promise<BatchInfo | undefined> => {
  checkBatchId(id);
  const row = await orThrow(deps.store.batchesGet(deps.pool, { id })());
  if (row === undefined) return undefined;
  const { ttlMs: _ttlMs, context, ...rest } = row;
  const fanOut = await orThrow(deps.store.fanOutsGet(deps.pool, { batchId: id })());
  // jsonb, written by enqueueBatch from a checked JSON value.
  return {
    ...rest,
    context: context as JsonValue,
    remaining: row.total - row.succeeded - row.failed - row.cancelled,
    ...(fanOut === undefined
      ? {}
      : {
          fanOut: {
            jobId: fanOut.jobId,
            parentTaskId: fanOut.parentTaskId,
            stepIndex: fanOut.stepIndex,
            policy: fanOut.policy,
            settled: fanOut.settled,
            settledAt: fanOut.settledAt,
            nextTaskId: fanOut.nextTaskId,
            error: fanOut.error,
          },
        }),
  };
};

/** One fan-out of a job, as `ops.fanOuts(jobId)` lists it: its batch of children and their counts. */
export interface JobFanOut {
  /** The batch of its children (`ops.batch(batchId)`, the dashboard's `/batches/<id>`). */
  readonly batchId: string;
  /** The step task that fanned out. */
  readonly parentTaskId: string;
  /** The step that receives the children's results, 0-based. */
  readonly stepIndex: number;
  /** What a failed child does to the job. */
  readonly policy: "fail" | "continue";
  /** null while it waits; else how it settled (see {@link FanOutInfo}). */
  readonly settled: "continued" | "failed" | "cancelled" | null;
  /** The next step's task once settled. */
  readonly nextTaskId: string | null;
  /** Why it failed, or `cancelled`. */
  readonly error: string | null;
  /** How many children. */
  readonly total: number;
  /** Children that succeeded. */
  readonly succeeded: number;
  /** Children that failed for good. */
  readonly failed: number;
  /** Children cancelled (or deleted by ops). */
  readonly cancelled: number;
}

/** A job's fan-outs, oldest first (none for a job that never fanned out, or an unknown job). */
export const jobFanOuts = async (
  deps: Pick<OpsDeps, "store" | "pool">,
  jobId: string,
): Promise<ReadonlyArray<JobFanOut>> => {
  checkJobId(jobId);
  return orThrow(deps.store.fanOutsOfJob(deps.pool, { jobId })());
};
