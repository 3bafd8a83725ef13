import type { TraceCarrier } from "../events/taskEvents.ts";
import { enqueueColumns, type EnqueueColumns } from "./enqueueColumns.ts";
import { defineQuery, idsOf, nothing } from "./query.ts";

/** A batch to create: its members' queue and count, the user's context, its callback (both null: none) and ttl. */
export interface BatchCreate {
  readonly queue: string;
  readonly total: number;
  /** The user's context, as JSON text, or null. */
  readonly context: string | null;
  readonly callbackQueue: string | null;
  /** The callback task's columns (see `callbackTemplate`), as JSON text, or null. */
  readonly callback: string | null;
  readonly ttlMs: number;
}

/** Creates a batch (db/queries/batchesCreate.sql); its id. */
export const batchesCreate = defineQuery<BatchCreate, { readonly id: string }>("batchesCreate", [
  "queue",
  "total",
  "context",
  "callbackQueue",
  "callback",
  "ttlMs",
]).map((rows) => rows[0]?.id);

/** Completes a batch of no members now (db/queries/batchesSeal.sql). */
export const batchesSeal = defineQuery<{ readonly id: string }>("batchesSeal", ["id"]).map(nothing);

/** The members of one batch to insert: their columns, queue, trace context and batch. */
export interface MemberParams extends EnqueueColumns {
  readonly queue: string;
  readonly trace: TraceCarrier | null;
  readonly batchId: string;
}

/** Inserts members of a batch, one array parameter per column; their ids in input order. */
export const batchesEnqueueMembers = defineQuery<MemberParams, { readonly id: string }>(
  "batchesEnqueueMembers",
  ["queue", "trace", "batchId", ...enqueueColumns],
).map(idsOf);

/** A batch as db/queries/batchesGet.sql reads it. */
export interface BatchRow {
  readonly id: string;
  readonly queue: string;
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly failedIds: ReadonlyArray<string>;
  /** Stored JSON (unknown here: the row type stays shallow for the catalogue's type checks). */
  readonly context: unknown;
  readonly callbackQueue: string | null;
  readonly callbackTaskId: string | null;
  readonly ttlMs: number;
  readonly createdAt: Date;
  readonly completedAt: Date | null;
  readonly expiresAt: Date | null;
}

/** One batch, or undefined. */
export const batchesGet = defineQuery<{ readonly id: string }, BatchRow>("batchesGet", ["id"]).map(
  (rows) => rows[0],
);

/** One batch of the retention sweep over completed batches; the ids deleted. */
export const batchesDeleteExpired = defineQuery<{ readonly limit: number }, { readonly id: string }>(
  "batchesDeleteExpired",
  ["limit"],
).map(idsOf);
