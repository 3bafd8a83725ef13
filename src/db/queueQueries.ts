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
  /** Whether the definition has a maxPending; null leaves the stored mark (a DLQ registered by another queue). */
  readonly counted: boolean | null;
}, { readonly operatorCap: number | null }>("queuesUpsert", ["name", "dlq", "counted", "overwriteDlq"]).map(
  (rows) => rows[0]?.operatorCap ?? null,
);

/** This process subscribes to outcomes until `ttlMs` passes. */
export const outcomeListenersUpsert = defineQuery<{ readonly listenerId: string; readonly ttlMs: number }>(
  "outcomeListenersUpsert",
  ["listenerId", "ttlMs"],
).map(nothing);

/** No outcome stream of this process is subscribed any more. */
export const outcomeListenersDelete = defineQuery<{ readonly listenerId: string }>("outcomeListenersDelete", [
  "listenerId",
]).map(nothing);

/**
 * A worker records its definition's rate limit (both null: none) when it
 * starts; in force unless an operator's setting is. Wakes the queue's
 * workers when the setting in force changed.
 */
export const queuesDefineRateLimit = defineQuery<
  {
    readonly queue: string;
    readonly limit: number | null;
    readonly periodMs: number | null;
    readonly channel: string;
  },
  { readonly changed: number }
>("queuesDefineRateLimit", ["queue", "limit", "periodMs", "channel"])
  .map((rows) => (rows[0]?.changed ?? 0) > 0)
  .from(
    (
      params: { readonly queue: string; readonly limit: number | null; readonly periodMs: number | null },
      sql,
    ) => ({ ...params, channel: `${sql.schema}.ready` }),
  );

/** What an operator does to a queue's rate limit: set one, turn it off, or go back to the definition's. */
export type RateLimitChange =
  | { readonly mode: "set"; readonly limit: number; readonly periodMs: number }
  | { readonly mode: "off" | "definition"; readonly limit?: undefined; readonly periodMs?: undefined };

/** Stores an operator's rate limit setting (or clears it); wakes the queue's workers in every process. */
export const queuesSetRateLimit = defineQuery<
  {
    readonly queue: string;
    readonly mode: string;
    readonly limit: number | null;
    readonly periodMs: number | null;
    readonly channel: string;
  },
  { readonly refreshed: number }
>("queuesSetRateLimit", ["queue", "mode", "limit", "periodMs", "channel"])
  .map(nothing)
  .from((params: { readonly queue: string; readonly change: RateLimitChange }, sql) => ({
    queue: params.queue,
    mode: params.change.mode,
    limit: params.change.limit ?? null,
    periodMs: params.change.periodMs ?? null,
    channel: `${sql.schema}.ready`,
  }));

/** A queue's rate limit and its budgets' use, as queuesGetRateLimit reads them. */
export interface RateLimitRow {
  readonly limit: number | null;
  readonly periodMs: number | null;
  readonly definedLimit: number | null;
  readonly definedPeriodMs: number | null;
  readonly setAt: Date | null;
  readonly used: number;
  readonly nextStartAt: Date | null;
  readonly activeKeys: number;
  readonly keys: ReadonlyArray<{ readonly key: string; readonly used: number; readonly nextStartAt: string | null }>;
}

/** Deletes up to `limit` rate budgets idle past their queue's period; how many went. */
export const rateBudgetsPrune = defineQuery<{ readonly limit: number }, { readonly deleted: number }>(
  "rateBudgetsPrune",
  ["limit"],
).map((rows) => rows[0]?.deleted ?? 0);

/** A queue's rate limit setting and use now; undefined for a queue never recorded. */
export const queuesGetRateLimit = defineQuery<{ readonly queue: string; readonly keys: number }, RateLimitRow>(
  "queuesGetRateLimit",
  ["keys", "queue"],
).map((rows) => rows[0]);

/** A capped queue's cap in force (null: none, nothing counted) and its pending tasks, counted up to cap + 1. */
export interface PendingCheckRow {
  readonly cap: number | null;
  readonly pending: number | null;
}

/** Checks a capped queue's pending count after an insert, under its cap lock (held to commit). */
export const queuesCheckPending = defineQuery<
  { readonly queue: string; readonly definedCap: number; readonly adding: number },
  PendingCheckRow
>("queuesCheckPending", ["queue", "definedCap", "adding"]).map(
  (rows): PendingCheckRow => rows[0] ?? { cap: null, pending: null },
);

/** An operator's cap setting as stored: `setAt` null when none is (the definition's applies). */
export interface MaxPendingRow {
  readonly maxPending: number | null;
  readonly setAt: Date | null;
  /** Whether the last registered definition of the queue has a maxPending; null before any registered (0025). */
  readonly counted: boolean | null;
}

/**
 * Stores (`set`, `off`) or clears (`definition`) an operator's cap on a
 * queue's pending tasks; undefined when `set` was refused because the
 * queue's last registered definition has no maxPending (`counted` false).
 */
export const queuesSetMaxPending = defineQuery<
  { readonly queue: string; readonly mode: "set" | "off" | "definition"; readonly cap: number | null },
  MaxPendingRow
>("queuesSetMaxPending", ["queue", "mode", "cap"]).map((rows) => rows[0]);

/** A queue's stored cap setting; undefined for a queue never recorded. */
export const queuesGetMaxPending = defineQuery<{ readonly queue: string }, MaxPendingRow>("queuesGetMaxPending", [
  "queue",
]).map((rows) => rows[0]);
