import { defineQuery, idsOf, nothing } from "./query.ts";

/** A task row as outcome streams describe it. */
export interface TaskRow {
  readonly id: string;
  readonly queue: string;
  readonly state: "pending" | "in_progress" | "succeeded" | "cancelled" | "failed";
  readonly attempt: number;
  readonly output: unknown;
  readonly error: string | null;
  readonly runAt: Date;
  readonly jobId: string | null;
  readonly stepIndex: number | null;
  readonly dlqFrom: string | null;
}

/** One task as outcome streams describe it; undefined when there is none. */
export const tasksGet = defineQuery<{ readonly id: string }, TaskRow>("tasksGet", ["id"]).map((rows) => rows[0]);

/** Many tasks, for many waiters in one read. */
export const tasksGetMany = defineQuery<{ readonly ids: ReadonlyArray<string> }, TaskRow>("tasksGetMany", [
  "ids",
]);

/** A job's furthest step; undefined when the job has none. */
export const tasksGetLatestOfJob = defineQuery<{ readonly jobId: string }, TaskRow>("tasksGetLatestOfJob", [
  "jobId",
]).map((rows) => rows[0]);

/**
 * Cancels a task (by id) or every live task of a job (by job id): pending
 * ones at once, running ones by request (see tasksCancel.sql). A job's
 * cancel must run in a transaction after {@link tasksLockJob}.
 */
export const tasksCancel = defineQuery<
  {
    readonly taskId: string | null;
    readonly jobId: string | null;
    readonly channel: string;
    readonly queue: string;
  },
  { readonly id: string; readonly previous: string }
>("tasksCancel", ["taskId", "jobId", "queue", "channel"]).from(
  (params: { readonly taskId: string | null; readonly jobId: string | null; readonly queue: string }, sql) => ({
    ...params,
    channel: `${sql.schema}.cancel`,
  }),
);

/** A pending task with its input as stored: what underway/testing's enqueuedTasks reads. */
export interface PendingTaskRow {
  readonly id: string;
  readonly input: unknown;
  readonly runAt: Date;
  readonly priority: number;
  readonly concurrencyKey: string | null;
  readonly group: string | null;
  readonly jobId: string | null;
  readonly stepIndex: number | null;
}

/** A queue's pending tasks, oldest first, at most `limit`. */
export const tasksListPending = defineQuery<
  { readonly queue: string; readonly limit: number },
  PendingTaskRow
>("tasksListPending", ["queue", "limit"]);

/** Locks a job against step completions until the transaction ends. */
export const tasksLockJob = defineQuery<{ readonly jobId: string }>("tasksLockJob", ["jobId"]).map(nothing);

/** One batch of the retention sweep; returns the ids deleted. */
export const tasksDeleteExpired = defineQuery<{ readonly limit: number }, { readonly id: string }>(
  "tasksDeleteExpired",
  ["limit"],
).map(idsOf);

/** Which dead-lettered tasks a redrive moves; `null` leaves a criterion out. */
export interface RedriveSelection {
  readonly ids: ReadonlyArray<string> | null;
  readonly errorLike: string | null;
  readonly failedBefore: Date | null;
}

/** One batch of a redrive: the selection, the dead-letter queue it leaves, and how many rows at most. */
export interface RedriveBatch extends RedriveSelection {
  readonly dlq: string;
  readonly limit: number;
}

/** One batch of a redrive out of `dlq`; returns the ids moved. */
export const tasksRedrive = defineQuery<RedriveBatch & { readonly channel: string }, { readonly id: string }>(
  "tasksRedrive",
  ["dlq", "ids", "errorLike", "failedBefore", "limit", "channel"],
)
  .from((batch: RedriveBatch, sql) => ({ ...batch, channel: `${sql.schema}.ready` }))
  .map(idsOf);
