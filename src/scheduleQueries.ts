import * as TE from "fp-ts/lib/TaskEither.js";
import { run, type Queryable, type Sql } from "./queries.ts";

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

/** Creates or replaces a queue's schedule; returns its new version. */
export const schedulesUpsert = (
  sql: Sql,
  db: Queryable,
  queue: string,
  cron: string,
  timeZone: string,
  input: string,
  catchUp: boolean,
) =>
  TE.map((rows: ReadonlyArray<{ readonly version: string }>) => rows[0]?.version)(
    run<{ readonly version: string }>(sql, db, "schedulesUpsert", [queue, cron, timeZone, input, catchUp]),
  );

/** Removes a queue's schedule; true if there was one. */
export const schedulesDelete = (sql: Sql, db: Queryable, queue: string) =>
  TE.map((rows: ReadonlyArray<unknown>) => rows.length > 0)(run(sql, db, "schedulesDelete", [queue]));

export const schedulesGet = (sql: Sql, db: Queryable, queue: string) =>
  TE.map((rows: ReadonlyArray<ScheduleRow>) => rows[0])(run<ScheduleRow>(sql, db, "schedulesGet", [queue]));

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
export const scheduleTicksInsert = (sql: Sql, db: Queryable, queue: string, version: string, tickAt: Date) =>
  TE.map((rows: ReadonlyArray<TickClaim>) => rows[0] ?? { claimed: false, version: null })(
    run<TickClaim>(sql, db, "scheduleTicksInsert", [queue, version, tickAt]),
  );

/** Records the task a claimed tick enqueued. */
export const scheduleTicksSetTask = (sql: Sql, db: Queryable, queue: string, tickAt: Date, taskId: string) =>
  TE.map(() => undefined)(run(sql, db, "scheduleTicksSetTask", [queue, tickAt, taskId]));
