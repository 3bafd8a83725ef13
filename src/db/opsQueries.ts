import type { TaskState, TaskSummary } from "../ops/types.ts";
import { defineFilteredQuery, definePairQuery, type Filtered } from "./filteredQuery.ts";
import { defineQuery, type NoParams } from "./query.ts";

/** Every queue name that has tasks (one index probe per queue). */
export const opsQueueNames = defineQuery<NoParams, { readonly name: string }>("opsQueueNames", []).map((rows) =>
  rows.map((row) => row.name),
);

/** A task as the list statements return it: the public summary's columns, and `sort_id`, the raw id they sort on. */
type SummaryRecord = TaskSummary & { readonly sort_id: string };

/**
 * A task's summary fields, in the order the ops API has always returned
 * them, without what else its row holds (a list's sort key, the detail's
 * options): one object literal per row.
 */
export const summaryOf = (row: TaskSummary): TaskSummary => ({
  id: row.id,
  queue: row.queue,
  state: row.state,
  attempt: row.attempt,
  maxAttempts: row.maxAttempts,
  priority: row.priority,
  concurrencyKey: row.concurrencyKey,
  jobId: row.jobId,
  stepIndex: row.stepIndex,
  error: row.error,
  runAt: row.runAt,
  createdAt: row.createdAt,
  startedAt: row.startedAt,
  finishedAt: row.finishedAt,
  dlqFrom: row.dlqFrom,
});

/** A page's rows as tasks. */
const summariesOf = (rows: ReadonlyArray<SummaryRecord>): ReadonlyArray<TaskSummary> => rows.map(summaryOf);

/** One task with its options, lease and I/O. */
export interface DetailRow extends TaskSummary {
  readonly input: unknown;
  readonly output: unknown;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly retryCoefficient: number;
  readonly retryJitter: number;
  readonly timeoutMs: number;
  readonly heartbeatMs: number;
  readonly ttlMs: number;
  readonly concurrencyLimit: number;
  readonly uniqueKey: string | null;
  readonly rateLimitKey: string | null;
  readonly workerId: string | null;
  readonly leaseExpiresAt: Date | null;
  readonly cancelRequestedAt: Date | null;
  readonly group: string | null;
  readonly batchId: string | null;
}

/** One task with everything stored about it but its history; undefined when there is none. */
export const opsTaskDetail = defineQuery<{ readonly id: string }, DetailRow>("opsTaskDetail", ["id"]).map(
  (rows) => rows[0],
);

/** Per (queue, state) that has tasks: a count bounded at `bound + 1`, and the planner's estimate when it passed `bound`. */
export interface CountRow {
  readonly queue: string;
  readonly state: TaskState;
  readonly estimate: number;
  readonly exact: number | null;
}

/** Every queue's counts per state; exact where they are at most `bound`. */
export const opsQueueCounts = defineQuery<{ readonly bound: number }, CountRow>("opsQueueCounts", ["bound"]);

/** A queue's settings and backlog age. */
export interface QueueRow {
  readonly queue: string;
  readonly dlq: string | null;
  readonly pausedAt: Date | null;
  readonly oldestPendingAgeSeconds: number | null;
  /** Pending tasks not yet due, never attempted; at most a little over `bound` per priority. */
  readonly delayed: number;
  /** Pending tasks not yet due, waiting out a retry backoff; bounded as `delayed`. */
  readonly retrying: number;
  /** When the next task not yet due falls due. */
  readonly nextDueAt: Date | null;
  /** Failed tasks of its dead-letter queue that came from it, at most `bound` + 1. */
  readonly deadLettered: number;
  /** Its rate limit in force (both null: none). */
  readonly rateLimit: number | null;
  readonly ratePeriodMs: number | null;
}

/** These queues and every registered one: settings, and backlogs of those in `pending`. */
export const opsQueuesList = defineQuery<
  {
    readonly queues: ReadonlyArray<string>;
    readonly pending: ReadonlyArray<string>;
    readonly bound: number;
  },
  QueueRow
>("opsQueuesList", ["queues", "pending", "bound"]);

/** A page of tasks for a narrow filter (ids, a job, a concurrency key, or none), off its own index. */
export const opsTasksPlain = defineFilteredQuery<
  { readonly after: string | null; readonly rows: number },
  SummaryRecord
>("opsTasksPlain", ["after", "rows"]).map(summariesOf);

/** Whether the trigram index on task.error (migration 0013) exists and is valid. */
export const opsErrorIndex = defineQuery<NoParams, { readonly present: boolean }>("opsErrorIndex", []).map(
  (rows) => rows[0]?.present === true,
);

/** A row of a bounded walk: the task, whether it matched, and its place in the walk (1-based). */
export interface WalkRow {
  readonly task: TaskSummary;
  readonly hit: boolean;
  readonly n: number;
}

/** Up to `rows` matches among at most `budget` tasks read from the cursor in id order, and the `budget`th row read. */
export const opsTasksWalk = defineFilteredQuery<
  { readonly after: string | null; readonly rows: number; readonly budget: number },
  SummaryRecord & { readonly hit: boolean; readonly n: number }
>("opsTasksWalk", ["after", "rows", "budget"]).map((rows) =>
  rows.map((row): WalkRow => ({ task: summaryOf(row), hit: row.hit, n: row.n })),
);

/** A page of an error search across every queue, every match read off the trigram index, then sorted. */
export const opsTasksIndexed = defineFilteredQuery<
  { readonly after: string | null; readonly rows: number },
  SummaryRecord
>("opsTasksIndexed", ["after", "rows"]).map(summariesOf);

/** A page of tasks merged from one branch per (queue, state) pair. */
export const opsTasksByPair = definePairQuery<SummaryRecord>("opsTasksByPair", "opsTasksPairBranch").map(
  summariesOf,
);

/** How many tasks match, up to `limit` (null: all): a bulk action's dry run. */
export const opsTasksCount = defineFilteredQuery<{ readonly limit: number | null }, { readonly count: number }>(
  "opsTasksCount",
  ["limit"],
);

/** One batch of a bulk action: the last id it read, how many it matched and changed. */
export interface BatchRow {
  readonly lastId: string | null;
  readonly matched: number;
  readonly changed: number;
}

/** Walks up the ids, `size` rows a batch. */
export interface BatchParams {
  readonly after: string;
  readonly size: number;
}

/** One batch of a bulk retry or redrive (`kind` the event recorded). */
export const opsTasksRetry = defineFilteredQuery<
  BatchParams & { readonly channel: string; readonly kind: "retried" | "redriven" },
  BatchRow
>("opsTasksRetry", ["after", "size", "channel", "kind"]).from(
  (params: BatchParams & { readonly kind: "retried" | "redriven" } & Filtered, sql) => ({
    ...params,
    channel: `${sql.schema}.ready`,
  }),
);

/** A cancel batch's rows changed: their queue, and whether each ended cancelled (pending) or was asked to stop. */
export interface CancelBatchRow extends Omit<BatchRow, "changed"> {
  readonly changed: ReadonlyArray<{ readonly queue: string; readonly cancelled: boolean }>;
}

/** One batch of a bulk cancel. */
export const opsTasksCancel = defineFilteredQuery<BatchParams & { readonly channel: string }, CancelBatchRow>(
  "opsTasksCancel",
  ["after", "size", "channel"],
).from((params: BatchParams & Filtered, sql) => ({ ...params, channel: `${sql.schema}.cancel` }));

/** One batch of a bulk delete, with the tasks' attempts and events. */
export const opsTasksDelete = defineFilteredQuery<BatchParams, BatchRow>("opsTasksDelete", ["after", "size"]);

/** The facts `ops.explain` reasons from (db/queries/opsTaskExplain.sql). */
export interface ExplainRow
  extends Pick<
    TaskSummary,
    "id" | "queue" | "state" | "attempt" | "maxAttempts" | "priority" | "runAt" | "startedAt" | "finishedAt"
  > {
  readonly concurrencyKey: string | null;
  readonly concurrencyLimit: number;
  readonly workerId: string | null;
  readonly leaseExpiresAt: Date | null;
  readonly cancelRequestedAt: Date | null;
  readonly error: string | null;
  readonly now: Date;
  readonly debounceKey: string | null;
  readonly pausedAt: Date | null;
  readonly keyHolders: ReadonlyArray<string> | null;
  readonly keyLeaseExpiresAt: Date | null;
  readonly ahead: number | null;
  /** Its rateLimitKey (null: the queue's own budget). */
  readonly rateKey: string | null;
  /** The queue's rate limit in force, if any. */
  readonly rateLimit: number | null;
  readonly ratePeriodMs: number | null;
  /** When its budget's limit-th most recent start leaves the window (past or null: it has room), for a pending task. */
  readonly rateFreeAt: Date | null;
  /** Starts of its budget in the window now, for a pending task of a rate-limited queue. */
  readonly rateUsed: number | null;
  /** Its group, if any. */
  readonly group: string | null;
  /** Its group's weight (1 unless set), for a grouped task. */
  readonly groupWeight: number | null;
  /** Groups with pending tasks whose turn comes before its group's, bounded at `bound + 1`; for a due grouped pending task. */
  readonly groupsAhead: number | null;
  readonly liveWorkers: number;
  readonly lastWorkerSeenAt: Date | null;
  readonly perSecond: number;
  /** Its deadline for a first start (`startBy`/`startWithinMs`), while it has not started. */
  readonly startBy: Date | null;
  /** How many times its handler snoozed it. */
  readonly snoozes: number;
  /** Until when its last snooze put it off, while pending after one; null otherwise. */
  readonly snoozedUntil: Date | null;
}

/** One task's facts for `ops.explain`; undefined when there is no task with that id. */
export const opsTaskExplain = defineQuery<
  { readonly id: string; readonly liveSeconds: number; readonly bound: number },
  ExplainRow
>("opsTaskExplain", ["bound", "liveSeconds", "id"]).map((rows) => rows[0]);

/** A task's stored input, for a deploy check (db/queries/opsTasksInputs.sql). */
export interface InputRow {
  readonly id: string;
  readonly state: "pending" | "in_progress";
  readonly stepIndex: number | null;
  readonly input: unknown;
}

/** One page of a queue's pending and running tasks, with their inputs, by id after `after`; at most `limit` rows and about `bytes` of input. */
export const opsTasksInputs = defineQuery<
  {
    readonly queue: string;
    readonly after: string;
    readonly limit: number;
    readonly bytes: number;
  },
  InputRow
>("opsTasksInputs", ["queue", "after", "limit", "bytes"]);
