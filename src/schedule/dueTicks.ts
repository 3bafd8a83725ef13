import type { ScheduleRow } from "../db/scheduleQueries.ts";
import { ticksBetween, type ScheduleSpec } from "./schedule.ts";

/**
 * The ticks to enqueue now: those in `(cursor, now]`, but only the latest
 * when missed ticks are skipped (a scheduler woken late, or one that finds
 * ticks due since it last ran), and at most `maxCatchUp` when caught up.
 */
export const dueTicks = (
  spec: ScheduleSpec,
  cursor: number,
  now: number,
  catchUp: boolean,
  maxCatchUp: number,
): Date[] => ticksBetween(spec, new Date(cursor), new Date(now), catchUp ? maxCatchUp : 1);

/**
 * Where a scheduler resumes when it learns of a schedule version: never
 * before the schedule was written (earlier ticks of a new expression were
 * never due), and, for a catching-up schedule first seen by this run, right
 * after the last tick anyone enqueued.
 */
export const cursorFor = (
  row: Pick<ScheduleRow, "catchUp" | "updatedAt" | "lastTickAt">,
  cursor: number,
  firstSight: boolean,
): number => {
  const written = row.updatedAt.getTime();
  if (firstSight && row.catchUp) return Math.max(row.lastTickAt?.getTime() ?? written, written);
  return Math.max(cursor, written);
};
