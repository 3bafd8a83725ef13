import type { TraceCarrier } from "../events/taskEvents.ts";
import { defineQuery, idsOf, nothing } from "./query.ts";

/** A task as a worker claims it. */
export interface ClaimedRow {
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
  /** The policy's attempts once a redrive raised max_attempts past them; null before. */
  readonly attempt_budget: number | null;
  /** Ms from when the task was due to this claim, on the database clock. */
  readonly wait_ms: number;
  /** The producer's trace context, stored at enqueue when tracing was on. */
  readonly trace_context: TraceCarrier | null;
  /**
   * Started at claim. False for a keyed task claimed ahead of a free slot:
   * it holds no key slot until `tasksStart` admits it.
   */
  readonly admitted: boolean;
}

/** What one claim asks for: up to `limit` tasks, keyed ones past the first `startable` claimed unstarted. */
export interface ClaimParams {
  readonly queue: string;
  readonly limit: number;
  readonly workerId: string;
  readonly startable: number;
}

/** Claims up to `limit` tasks; keyed ones past the first `startable` (default all) are claimed unstarted (see `tasksStart`). */
export const tasksClaim = defineQuery<ClaimParams, ClaimedRow>("tasksClaim", [
  "queue",
  "limit",
  "workerId",
  "startable",
]).from((params: Omit<ClaimParams, "startable"> & { readonly startable?: number }) => ({
  ...params,
  startable: params.startable ?? params.limit,
}));

/** Tasks by id, each fenced by its attempt. */
export interface Fenced {
  readonly ids: ReadonlyArray<string>;
  readonly attempts: ReadonlyArray<number>;
}

/**
 * Starts claimed, unstarted keyed tasks: each takes its key's slot, or is
 * left unstarted when its key is at its limit. Returns the ids started.
 */
export const tasksStart = defineQuery<Fenced, { readonly id: string }>("tasksStart", ["ids", "attempts"]).map(
  idsOf,
);

/**
 * Ms until the queue's next pending task falls due, on the database clock;
 * null when none waits. `lookBackMs` also counts rows that fell due that
 * long ago (as 0), to cover the time since the preceding claim started.
 */
export const tasksNextDue = defineQuery<
  { readonly queue: string; readonly lookBackMs: number },
  { readonly wait_ms: number | null }
>("tasksNextDue", ["queue", "lookBackMs"]).map((rows) => rows[0]?.wait_ms ?? null);

interface Waiter {
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
