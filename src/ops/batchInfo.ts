import type { JsonValue } from "../json.ts";
import { checkBatchId } from "../identifier.ts";
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
  // jsonb, written by enqueueBatch from a checked JSON value.
  return {
    ...rest,
    context: context as JsonValue,
    remaining: row.total - row.succeeded - row.failed - row.cancelled,
  };
};
