import type { TraceCarrier } from "../events/taskEvents.ts";
import type { TaskDetailOptions } from "../ops/types.ts";
import { defineQuery, idsOf, nothing } from "./query.ts";

/**
 * A task as a worker claims it: camelCase, built once per row from the
 * statement's row ({@link claimedRowOf}), so nothing past this file reads a
 * column name.
 */
export interface ClaimedRow
  extends Omit<TaskDetailOptions, "ttlMs" | "uniqueKey" | "rateLimitKey"> {
  readonly id: string;
  readonly input: unknown;
  readonly attempt: number;
  readonly jobId: string | null;
  readonly stepIndex: number | null;
  readonly dlqFrom: string | null;
  /** The policy's attempts once a redrive raised maxAttempts past them; null before. */
  readonly attemptBudget: number | null;
  /** Ms from when the task was due to this claim, on the database clock. */
  readonly waitMs: number;
  /** The producer's trace context, stored at enqueue when tracing was on. */
  readonly traceContext: TraceCarrier | null;
  /**
   * Started at claim. False for a keyed task, or a task of a rate-limited
   * queue, claimed ahead of a free slot: it holds no key slot and has spent
   * no rate budget until `tasksStart` admits it.
   */
  readonly admitted: boolean;
  /** Its queue was rate-limited when claimed: its start counts against a rate budget. */
  readonly rateLimited: boolean;
  /** How many times its handler snoozed it so far (`snooze(ms)`), for the definition's `maxSnoozes`. */
  readonly snoozes: number;
}

/** A claimed task as the claim returns it: the columns of function task_claim (db/migrations/0022_claim_function.sql, 0024). */
export interface ClaimedRecord {
  readonly id: string;
  readonly input: unknown;
  readonly attempt: number;
  readonly max_attempts: number;
  readonly retry_initial_ms: number;
  readonly retry_max_ms: number;
  readonly retry_coefficient: number;
  readonly retry_jitter: number;
  readonly timeout_ms: number;
  readonly heartbeat_ms: number;
  readonly concurrency_key: string | null;
  readonly concurrency_limit: number;
  readonly job_id: string | null;
  readonly step_index: number | null;
  readonly priority: number;
  readonly dlq_from: string | null;
  readonly attempt_budget: number | null;
  readonly wait_ms: number;
  readonly trace_context: TraceCarrier | null;
  readonly admitted: boolean;
  readonly batch_rank: number | string;
  readonly rate_limited: boolean;
  readonly snoozes: number;
}

/**
 * The one place a claimed row's columns become {@link ClaimedRow}'s fields:
 * for tasksClaim's rows and tasksCompleteAndClaim's JSON alike. One object
 * literal per row (the hot path: no per-field work beyond the copy).
 */
export const claimedRowOf = (row: ClaimedRecord): ClaimedRow => ({
  id: row.id,
  input: row.input,
  attempt: row.attempt,
  maxAttempts: row.max_attempts,
  retryInitialMs: row.retry_initial_ms,
  retryMaxMs: row.retry_max_ms,
  retryCoefficient: row.retry_coefficient,
  retryJitter: row.retry_jitter,
  timeoutMs: row.timeout_ms,
  heartbeatMs: row.heartbeat_ms,
  concurrencyKey: row.concurrency_key,
  concurrencyLimit: row.concurrency_limit,
  jobId: row.job_id,
  stepIndex: row.step_index,
  priority: row.priority,
  dlqFrom: row.dlq_from,
  attemptBudget: row.attempt_budget,
  waitMs: row.wait_ms,
  traceContext: row.trace_context,
  admitted: row.admitted,
  rateLimited: row.rate_limited,
  snoozes: row.snoozes,
});

/**
 * A claim's rows as {@link ClaimedRow}s, in the batch's order (groups'
 * turns, then priority: task_claim, db/migrations/0024_claim_fast_path.sql), so a worker
 * that holds more than it runs at once starts them in that order.
 */
export const claimedRowsOf = (rows: ReadonlyArray<ClaimedRecord>): ReadonlyArray<ClaimedRow> =>
  [...rows].sort((x, y) => Number(x.batch_rank) - Number(y.batch_rank)).map(claimedRowOf);

/** What one claim asks for: up to `limit` tasks, keyed ones past the first `startable` claimed unstarted. */
export interface ClaimParams {
  readonly queue: string;
  readonly limit: number;
  readonly workerId: string;
  readonly startable: number;
}

/** Claims up to `limit` tasks; keyed ones past the first `startable` (default all) are claimed unstarted (see `tasksStart`). */
export const tasksClaim = defineQuery<ClaimParams, ClaimedRecord>("tasksClaim", [
  "queue",
  "limit",
  "workerId",
  "startable",
])
  .map(claimedRowsOf)
  .from((params: Omit<ClaimParams, "startable"> & { readonly startable?: number }) => ({
  ...params,
  startable: params.startable ?? params.limit,
}));

/**
 * An idle worker's claim sent as one statement (tasksClaimPlain): the
 * claimed rows of a queue without flow control, or `plain: false` when the
 * queue is paused, rate-limited or has grouped tasks pending, and nothing
 * was claimed: then the claim goes through task_claim (tasksClaim).
 */
export type PlainClaim =
  | { readonly plain: true; readonly rows: ReadonlyArray<ClaimedRow> }
  | { readonly plain: false };

/** tasksClaimPlain's row: a claimed task, or the status row (every column null but `plain`). */
type PlainRecord = (ClaimedRecord | { readonly [K in keyof ClaimedRecord]: null }) & { readonly plain: boolean };

const plainClaimOf = (rows: ReadonlyArray<PlainRecord>): PlainClaim => {
  if (rows[0]?.plain !== true) return { plain: false };
  const claimed = rows.filter((row): row is ClaimedRecord & { readonly plain: boolean } => row.id !== null);
  return { plain: true, rows: claimedRowsOf(claimed) };
};

/**
 * Claims like tasksClaim for a queue that uses no flow control, as one
 * prepared statement instead of the function's call; says `plain: false`,
 * claiming nothing, when the queue uses some (db/queries/tasksClaimPlain.sql).
 */
export const tasksClaimPlain = defineQuery<ClaimParams, PlainRecord>("tasksClaimPlain", [
  "queue",
  "limit",
  "workerId",
  "startable",
]).map(plainClaimOf);

/** Tasks by id, each fenced by its attempt. */
export interface Fenced {
  readonly ids: ReadonlyArray<string>;
  readonly attempts: ReadonlyArray<number>;
}

/**
 * Starts claimed, unstarted tasks (keyed, or of a rate-limited queue): each
 * takes its key's slot and its rate budget's start, or is left unstarted
 * when its key is at its limit or its budget is spent. Returns the ids started.
 */
export const tasksStart = defineQuery<Fenced, { readonly id: string }>("tasksStart", ["ids", "attempts"]).map(
  idsOf,
);

/**
 * Ms until the queue's next pending task falls due, on the database clock,
 * or until a spent rate budget of the queue allows a start again, whichever
 * comes first; null when none waits. `lookBackMs` also counts rows that fell
 * due that long ago (as 0), to cover the time since the preceding claim started.
 */
export const tasksNextDue = defineQuery<
  { readonly queue: string; readonly lookBackMs: number },
  { readonly wait_ms: number | null }
>("tasksNextDue", ["queue", "lookBackMs"]).map((rows) => rows[0]?.wait_ms ?? null);

/** A worker that waits on a queue: inserts into it NOTIFY the worker while registered. */
export interface Waiter {
  readonly queue: string;
  readonly workerId: string;
}

/** This worker found `queue` empty: inserts NOTIFY it until `ttlMs` passes. */
export const queueWaitersUpsert = defineQuery<Waiter & { readonly ttlMs: number }>("queueWaitersUpsert", [
  "queue",
  "workerId",
  "ttlMs",
]).map(nothing);

/** This worker is busy or stopping: inserts need not NOTIFY it. */
export const queueWaitersDelete = defineQuery<Waiter>("queueWaitersDelete", ["queue", "workerId"]).map(nothing);
