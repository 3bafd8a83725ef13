import type { AttemptRow, EventRow } from "./db/historyQueries.ts";
import { checkTaskId } from "./identifier.ts";
import { orThrow } from "./errors.ts";
import { depsOf, type Db } from "./client/clientDeps.ts";
import type { Underway } from "./underway.ts";

/** One line of a task's history: an attempt, or an event such as a redrive. */
export type HistoryEntry =
  | ({
      /** An attempt: the fields of {@link AttemptRow}. */
      readonly _tag: "attempt";
    } & AttemptRow)
  | ({
      /** An event such as a redrive: the fields of {@link EventRow}. */
      readonly _tag: "event";
    } & EventRow);

/**
 * A task's attempts and events (redrives), oldest first. An event comes
 * after the attempt it followed: a redrive after attempt 2 sits between
 * attempts 2 and 3.
 *
 * @example
 * for (const entry of await taskHistory(underway, id)) {
 *   console.log(entry._tag === "attempt" ? `#${entry.attempt} ${entry.state}` : `${entry.kind}`);
 * }
 */
export const taskHistory = (underway: Underway, taskId: string): Promise<ReadonlyArray<HistoryEntry>> =>
  historyOf(depsOf(underway), taskId);

/** A task's history (see {@link taskHistory}), read from `db`. */
export const historyOf = async (db: Db, taskId: string): Promise<ReadonlyArray<HistoryEntry>> => {
  checkTaskId(taskId);
  const [attempts, events] = await Promise.all([
    orThrow(db.store.taskAttemptsList(db.pool, { id: taskId })()),
    orThrow(db.store.taskEventsList(db.pool, { id: taskId })()),
  ]);
  const entries: HistoryEntry[] = [
    ...attempts.map((row) => ({ _tag: "attempt" as const, ...row })),
    ...events.map((row) => ({ _tag: "event" as const, ...row })),
  ];
  // Stable sort: attempts keep their order, events theirs (by id). A snooze
  // happened during its attempt, before that attempt number ran to its end;
  // other events (a redrive) follow the attempt they came after.
  const place = (entry: HistoryEntry): number =>
    entry._tag === "attempt" ? 1 : entry.kind === "snoozed" ? 0 : 2;
  return entries.sort((a, b) => a.attempt - b.attempt || place(a) - place(b));
};
