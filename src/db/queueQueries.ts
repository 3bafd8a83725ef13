import { defineQuery, nothing } from "./query.ts";

/** A queue's pause state after a pause or resume. */
export interface QueuePauseRow {
  readonly name: string;
  readonly pausedAt: Date | null;
}

/** Pauses (`paused` true) or resumes a queue; a resume wakes its workers in every process. */
export const queuesSetPaused = defineQuery<
  { readonly queue: string; readonly paused: boolean; readonly channel: string },
  QueuePauseRow
>("queuesSetPaused", ["queue", "paused", "channel"]).from(
  (params: { readonly queue: string; readonly paused: boolean }, sql) => ({
    ...params,
    channel: `${sql.schema}.ready`,
  }),
);

/** When a queue was paused; null when it is not. */
export const queuesGetPaused = defineQuery<{ readonly queue: string }, { readonly pausedAt: Date | null }>(
  "queuesGetPaused",
  ["queue"],
).map((rows) => rows[0]?.pausedAt ?? null);

/** Registers a queue and its dead-letter queue; `overwriteDlq` false keeps an existing row's. */
export const queuesUpsert = defineQuery<{
  readonly name: string;
  readonly dlq: string | null;
  readonly overwriteDlq: boolean;
}>("queuesUpsert", ["name", "dlq", "overwriteDlq"]).map(nothing);

/** This process subscribes to outcomes until `ttlMs` passes. */
export const outcomeListenersUpsert = defineQuery<{ readonly listenerId: string; readonly ttlMs: number }>(
  "outcomeListenersUpsert",
  ["listenerId", "ttlMs"],
).map(nothing);

/** No outcome stream of this process is subscribed any more. */
export const outcomeListenersDelete = defineQuery<{ readonly listenerId: string }>("outcomeListenersDelete", [
  "listenerId",
]).map(nothing);
