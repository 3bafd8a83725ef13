import { anyRow, defineQuery, nothing, type NoParams } from "./query.ts";

/** A stored schedule, as a scheduler reads it. `version` changes on every write. */
export interface ScheduleRow {
  readonly queue: string;
  readonly cron: string;
  readonly timeZone: string;
  readonly input: unknown;
  readonly catchUp: boolean;
  readonly version: string;
  readonly updatedAt: Date;
  readonly lastTickAt: Date | null;
}

/** Creates or replaces a queue's schedule (`input` encoded); returns its new version. */
export const schedulesUpsert = defineQuery<
  {
    readonly queue: string;
    readonly cron: string;
    readonly timeZone: string;
    readonly input: string;
    readonly catchUp: boolean;
  },
  { readonly version: string }
>("schedulesUpsert", ["queue", "cron", "timeZone", "input", "catchUp"]).map((rows) => rows[0]?.version);

/** Removes a queue's schedule; true if there was one. */
export const schedulesDelete = defineQuery<{ readonly queue: string }>("schedulesDelete", ["queue"]).map(anyRow);

/** A queue's schedule; undefined when it has none. */
export const schedulesGet = defineQuery<{ readonly queue: string }, ScheduleRow>("schedulesGet", ["queue"]).map(
  (rows) => rows[0],
);

/** A stored schedule, as the ops API lists it. */
export interface ScheduleListRow {
  readonly queue: string;
  readonly cron: string;
  readonly timeZone: string;
  readonly input: unknown;
  readonly lastRunAt: Date | null;
  readonly lastTaskId: string | null;
}

/** Every schedule, by queue. */
export const schedulesList = defineQuery<NoParams, ScheduleListRow>("schedulesList", []);

/** A schedule's task enqueued now, with its latest tick's task's options; the new id, or undefined. */
export const schedulesRunNow = defineQuery<{ readonly queue: string }, { readonly id: string }>(
  "schedulesRunNow",
  ["queue"],
).map((rows) => rows[0]?.id);

/**
 * What claiming a tick found: whether this caller claimed it, and the
 * schedule's current version (null when unscheduled), so a caller refused
 * for acting on an old version knows to re-read.
 */
export interface TickClaim {
  readonly claimed: boolean;
  readonly version: string | null;
}

/** Claims one tick inside the caller's transaction; see scheduleTicksInsert.sql. */
export const scheduleTicksInsert = defineQuery<
  { readonly queue: string; readonly version: string; readonly tickAt: Date },
  TickClaim
>("scheduleTicksInsert", ["queue", "tickAt", "version"]).map(
  (rows): TickClaim => rows[0] ?? { claimed: false, version: null },
);

/** Records the task a claimed tick enqueued. */
export const scheduleTicksSetTask = defineQuery<{
  readonly queue: string;
  readonly tickAt: Date;
  readonly taskId: string;
}>("scheduleTicksSetTask", ["taskId", "queue", "tickAt"]).map(nothing);
