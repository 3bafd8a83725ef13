import type { ThroughputBucket } from "../ops/types.ts";
import { defineQuery, nothing } from "./query.ts";

/** A throughput row: the public bucket, as stored. */
export type ThroughputRow = ThroughputBucket;

/** Throughput per queue (null: every queue) and minute since `since`, oldest first. */
export const queueStatsList = defineQuery<{ readonly queue: string | null; readonly since: Date }, ThroughputRow>(
  "queueStatsList",
  ["queue", "since"],
);

/** Counter deltas, one array per column, one element per (queue, minute). */
export interface StatDeltas {
  readonly queues: string[];
  readonly buckets: Date[];
  readonly enqueued: number[];
  readonly succeeded: number[];
  readonly failed: number[];
  readonly retried: number[];
  readonly cancelled: number[];
}

/** Adds one client's counts since its last flush. */
export const queueStatsAdd = defineQuery<StatDeltas>("queueStatsAdd", [
  "queues",
  "buckets",
  "enqueued",
  "succeeded",
  "failed",
  "retried",
  "cancelled",
]).map(nothing);

/** Drops throughput buckets older than `keepDays`. */
export const queueStatsPrune = defineQuery<{ readonly keepDays: number }>("queueStatsPrune", ["keepDays"]).map(
  nothing,
);
