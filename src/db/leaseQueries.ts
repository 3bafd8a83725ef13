import type { Fenced } from "./claimQueries.ts";
import { defineQuery, idsOf, nothing, type NoParams } from "./query.ts";

/**
 * A task still this attempt's; `cancelRequested` if a cancel awaits its
 * handler; `renewed` unless its row was locked by another session, so its
 * lease was left for the next tick rather than waited for.
 */
export interface HeartbeatRow {
  readonly id: string;
  readonly cancelRequested: boolean;
  readonly renewed: boolean;
}

/** Extends the leases of a worker's tasks, skipping locked rows; returns those still its own (camelCase, built here). */
export const tasksHeartbeat = defineQuery<
  Fenced,
  { readonly id: string; readonly cancel_requested: boolean; readonly renewed: boolean }
>("tasksHeartbeat", ["ids", "attempts"]).map((rows) =>
  rows.map((row): HeartbeatRow => ({ id: row.id, cancelRequested: row.cancel_requested, renewed: row.renewed })),
);

/** Claimed, never started tasks back to pending (no attempt spent); returns the ids released. */
export const tasksRelease = defineQuery<Fenced, { readonly id: string }>("tasksRelease", ["ids", "attempts"]).map(
  idsOf,
);

/** Tasks reaped, each with the queue it was reaped from. */
export const tasksReap = defineQuery<
  { readonly limit: number },
  { readonly task_id: string; readonly queue: string }
>("tasksReap", ["limit"]).map((rows) => rows.map((row) => ({ id: row.task_id, queue: row.queue })));

/** Whether a cancel was requested for this running attempt. */
export const tasksCancelRequested = defineQuery<
  { readonly id: string; readonly attempt: number },
  { readonly requested: boolean }
>("tasksCancelRequested", ["id", "attempt"]).map((rows) => rows[0]?.requested === true);

/** Cancels the query a backend is running (an aborted transactional handler's). */
export const backendsCancel = defineQuery<{ readonly pid: number }>("backendsCancel", ["pid"]).map(nothing);

/** This session's server process: the named statement connect probes a pooler with (src/client/namedStatementsProbe.ts). */
export const backendPid = defineQuery<NoParams, { readonly pid: number }>("backendPid", []);
