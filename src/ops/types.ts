import type { JobDefinition, RateLimit } from "../definition.ts";
import type { HistoryEntry } from "../history.ts";
import type { JsonValue } from "../json.ts";

/** A task's state, as stored. */
export type TaskState = "pending" | "in_progress" | "succeeded" | "cancelled" | "failed";

/** Every task state, in lifecycle order. */
export const taskStates: ReadonlyArray<TaskState> = [
  "pending",
  "in_progress",
  "succeeded",
  "cancelled",
  "failed",
];

/**
 * Which tasks an ops call looks at; criteria combine (all must hold). An
 * empty filter matches every task. See docs/operations.md for the index
 * behind each criterion.
 */
export interface TaskFilter {
  /** In this queue, or in any of these queues. */
  readonly queue?: string | ReadonlyArray<string>;
  /** In this state, or in any of these states. */
  readonly state?: TaskState | ReadonlyArray<TaskState>;
  /** Only these task ids (decimal strings). An empty list matches nothing. */
  readonly ids?: ReadonlyArray<string>;
  /** Steps of this multi-step job run (a UUID). */
  readonly jobId?: string;
  /**
   * Members of this batch (`enqueueBatch`, or a step's `fanOut`), as
   * `ops.batch(id)` names it: a positive integer as a string. Its callback
   * task is not a member, nor is a member retried or redriven by ops (it
   * leaves its batch, which counted its first end).
   */
  readonly batchId?: string;
  /** With this concurrency key. */
  readonly concurrencyKey?: string;
  /** The last error contains this text, ignoring case: a plain substring, not a pattern. */
  readonly errorLike?: string;
  /** The stored input contains this JSON (`input @> value`), e.g. `{ userId: 42 }`. */
  readonly inputContains?: JsonValue;
  /** Created at or after this time. */
  readonly createdAfter?: Date;
  /** Created before this time. */
  readonly createdBefore?: Date;
}

/** A task as lists show it: no input or output. */
export interface TaskSummary {
  /** The task id (a bigint as a decimal string). */
  readonly id: string;
  /** The queue it is in (a dead-letter queue once dead-lettered). */
  readonly queue: string;
  /** Its state. */
  readonly state: TaskState;
  /** Attempts started so far (0 before the first claim). */
  readonly attempt: number;
  /** Attempts it may have in all (a retry or redrive raises it). */
  readonly maxAttempts: number;
  /** Higher runs first. */
  readonly priority: number;
  /** Its concurrency key, if any. */
  readonly concurrencyKey: string | null;
  /** The multi-step job run it is a step of, if any. */
  readonly jobId: string | null;
  /** Which step of the job it is (0-based), if any. */
  readonly stepIndex: number | null;
  /** The last error message, at most 1,000 characters; null when none. */
  readonly error: string | null;
  /** When it is (or was) due. */
  readonly runAt: Date;
  /** When it was enqueued. */
  readonly createdAt: Date;
  /** When its latest attempt started. */
  readonly startedAt: Date | null;
  /** When it finished. */
  readonly finishedAt: Date | null;
  /** The queue it was dead-lettered from, while it sits in a dead-letter queue; null otherwise. */
  readonly dlqFrom: string | null;
}

/** One page of tasks and the cursor to the next. */
export interface TaskPage {
  /** The tasks of this page, in the order asked for. */
  readonly tasks: ReadonlyArray<TaskSummary>;
  /** Opaque keyset cursor for `ListOptions.after`; null on the last page. */
  readonly next: string | null;
  /**
   * Set when a bounded search stopped before filling the page: it read
   * this many tasks (from the cursor on, in the list's order) and `next`
   * continues after the last of them. Fewer tasks than `limit`, even none,
   * then does not mean that no more match. Only a search across every
   * queue that no index narrows is bounded (`inputContains`, or an
   * `errorLike` without 3 letters or digits in a row or without the
   * trigram index); see docs/operations.md.
   */
  readonly searched?: number;
}

/** Paging of {@link Ops.tasks}. */
export interface ListOptions {
  /** Tasks per page: 1 to 1,000. Default 50. */
  readonly limit?: number;
  /** A `next` cursor from the previous page (of the same order). */
  readonly after?: string;
  /** By id: `"newest"` first (the default) or `"oldest"` first. */
  readonly order?: "newest" | "oldest";
  /**
   * The most tasks a bounded search reads per call (see
   * {@link TaskPage.searched}): 1 to 1,000,000. Default 100,000, about a
   * quarter of a second on 10 million rows (docs/operations.md). An error
   * search off the trigram index walks at most this many (and at most
   * 10,000) before reading the rest off the index, and is never bounded.
   */
  readonly searchRows?: number;
}

/** The options a task was enqueued with, as stored. */
export interface TaskDetailOptions {
  /** Attempts it may have in all. */
  readonly maxAttempts: number;
  /** First retry delay. */
  readonly retryInitialMs: number;
  /** Longest retry delay. */
  readonly retryMaxMs: number;
  /** Backoff coefficient. */
  readonly retryCoefficient: number;
  /** Jitter, 0 to 1. */
  readonly retryJitter: number;
  /** Attempt timeout. */
  readonly timeoutMs: number;
  /** Lease renewal interval. */
  readonly heartbeatMs: number;
  /** How long it is kept once finished. */
  readonly ttlMs: number;
  /** Higher runs first. */
  readonly priority: number;
  /** Its concurrency key, if any. */
  readonly concurrencyKey: string | null;
  /** Tasks of the key that may run at once. */
  readonly concurrencyLimit: number;
  /** Its unique key, if any. */
  readonly uniqueKey: string | null;
  /** Its rate budget's key (`rateLimitKey`), if any: without one, its queue's own budget. */
  readonly rateLimitKey: string | null;
}

/** The lease of a running task. */
export interface TaskLease {
  /** The client whose worker holds it (host:pid:random): its `id` in `ops.workers()`. */
  readonly workerId: string;
  /** When it lapses unless renewed; then the reaper returns the task to pending. */
  readonly expiresAt: Date;
}

/** One task in full. */
export interface TaskDetail extends TaskSummary {
  /** Its group (fair tenants: docs/flow-control.md), if any. */
  readonly group: string | null;
  /** The stored input (JSON as stored: ops is untyped). */
  readonly input: unknown;
  /** The stored output once it succeeded; null otherwise. */
  readonly output: unknown;
  /** The options it was enqueued with. */
  readonly options: TaskDetailOptions;
  /** The lease of a running task: which worker holds it and until when. */
  readonly lease: TaskLease | null;
  /** When a cancel was requested while it ran; null otherwise. */
  readonly cancelRequestedAt: Date | null;
  /** Attempts (with error name, message and stack) and events, oldest first, as `taskHistory()`. */
  readonly history: ReadonlyArray<HistoryEntry>;
  /** The batch it is a member of (`enqueueBatch`; `ops.batch(id)`), or null. */
  readonly batchId: string | null;
  /** The latest value its handler reported with `ctx.progress`, or null if none did. */
  readonly progress: StoredProgress | null;
  /** Log lines its attempts keep (`ctx.log`), all attempts together; `ops.taskLogs(id)` reads them. */
  readonly logLines: number;
}

/** A task's latest progress as stored. */
export interface StoredProgress {
  /** The value passed to `ctx.progress` (JSON as stored). */
  readonly value: unknown;
  /** The attempt that reported it. */
  readonly attempt: number;
  /** When it was stored. */
  readonly updatedAt: Date;
}

/** One line of an attempt's log (`ctx.log`). */
export interface TaskLogLine {
  /** Its number in the attempt, from 1, counting lines cut before it. */
  readonly seq: number;
  /** When the handler logged it (the worker's clock). */
  readonly at: Date;
  /** The line, cut at the definition's `maxLogLineLength`, NUL characters replaced by U+FFFD. */
  readonly message: string;
}

/** One attempt's log: the lines it keeps, and how many older ones were cut. */
export interface AttemptLog {
  /** The attempt, 1-based. */
  readonly attempt: number;
  /** The oldest lines cut to keep the definition's `maxLogLines`. */
  readonly cut: number;
  /** The lines kept, oldest first. */
  readonly lines: ReadonlyArray<TaskLogLine>;
}

/** A count, exact or a planner estimate. */
export interface Count {
  /** How many. */
  readonly count: number;
  /** True when `count` is the planner's estimate rather than an exact count. */
  readonly approximate: boolean;
}

/** One queue at a glance. */
export interface QueueStats {
  /** The queue's name. */
  readonly queue: string;
  /** Its dead-letter queue, if any. */
  readonly dlq: string | null;
  /** When it was paused; null when it is not. */
  readonly pausedAt: Date | null;
  /** Its rate limit in force (an operator's setting, or the definition's); null when none. See {@link Ops.rateLimit}. */
  readonly rateLimit: RateLimit | null;
  /** Tasks per state. */
  readonly counts: Readonly<Record<TaskState, Count>>;
  /** The pending tasks of `counts.pending`, split by why they wait. */
  readonly pending: PendingCounts;
  /**
   * Failed tasks in its dead-letter queue that came from this queue (0
   * without a DLQ): a task that fails for good there moves to the DLQ, so
   * `counts.failed` of this queue does not count it. Exact up to 1,000;
   * above that, "at least", marked approximate.
   */
  readonly deadLettered: Count;
  /** Seconds since the oldest pending task that is due now fell due; null when none is. */
  readonly oldestPendingAgeSeconds: number | null;
  /** When its next pending task that is not due yet (delayed or retrying) falls due; null when none. */
  readonly nextDueAt: Date | null;
}

/**
 * Pending tasks by why they wait. `delayed` and `retrying` are exact up to
 * 1,000 per priority; above that they are "at least", marked approximate,
 * and so is `due` (the pending count less the other two).
 */
export interface PendingCounts {
  /** Due now: a worker of the queue claims them next (unless it is paused). */
  readonly due: Count;
  /** Not due yet, never attempted: enqueued with a delay or a run time. */
  readonly delayed: Count;
  /** Not due yet, attempted before: waiting out a retry backoff. */
  readonly retrying: Count;
}

/** What happened in one queue in one minute, from counters every client flushes. */
export interface ThroughputBucket {
  /** The queue. */
  readonly queue: string;
  /** The minute's start. */
  readonly at: Date;
  /** Tasks enqueued (through `enqueue`/`enqueueMany`). */
  readonly enqueued: number;
  /** Attempts that succeeded. */
  readonly succeeded: number;
  /** Tasks that failed for good. */
  readonly failed: number;
  /** Attempts that failed and were scheduled to retry. */
  readonly retried: number;
  /** Tasks cancelled (by a worker noticing a cancel, or by `cancel`). */
  readonly cancelled: number;
}

/** Options of the bulk actions. */
export interface BulkOptions {
  /** Count what would change, change nothing. Default false. */
  readonly dryRun?: boolean;
  /** Tasks changed per statement (each its own transaction). Default 1,000. */
  readonly batchSize?: number;
  /** At most this many tasks, lowest id first. Default: no limit. */
  readonly limit?: number;
}

/** What a bulk action did (or, in a dry run, would do). */
export interface BulkResult {
  /** Tasks the filter matched that the action applies to. */
  readonly matched: number;
  /** Tasks changed (0 in a dry run); fewer than `matched` when some were skipped (locked, or a unique key held). */
  readonly changed: number;
  /** Whether this was a dry run. */
  readonly dryRun: boolean;
}

/** A schedule with its next run times. */
export interface ScheduleInfo {
  /** The queue it enqueues into. */
  readonly queue: string;
  /** The cron expression (with seconds). */
  readonly expression: string;
  /** The IANA zone its wall-clock times are read in. */
  readonly timeZone: string;
  /** The input each tick enqueues, as stored. */
  readonly input: unknown;
  /** The next run times, soonest first; empty when the schedule is broken. */
  readonly nextRuns: ReadonlyArray<Date>;
  /** When its latest run was due (the latest tick enqueued); null when it has not run. */
  readonly lastRunAt: Date | null;
  /** The task its latest run enqueued; null when none (or its tick record was pruned after 7 days). */
  readonly lastTaskId: string | null;
  /** Why the stored schedule no longer validates (it does not fire); null when it is fine. */
  readonly error: string | null;
}

/**
 * One group (tenant) of a queue: tasks with this `group` option take turns
 * with the other groups' at each claim (docs/flow-control.md).
 */
export interface GroupStats {
  /** The group's key, as given in the task options. */
  readonly group: string;
  /** Its pending tasks: exact up to 1,000; above that, "at least", marked approximate. */
  readonly pending: Count;
  /** Its tasks in progress now, in any process. */
  readonly running: number;
  /** Tasks it takes per turn (1 unless set with `ops.setGroupWeight`). */
  readonly weight: number;
  /** True when an operator set `weight`; false for the default. */
  readonly weightSet: boolean;
  /** True for the group that took the queue's last turn: the next claim starts after it. */
  readonly lastTurn: boolean;
}

/** A process running workers, from the worker registry. */
export interface WorkerInfo {
  /** The client's registry id (host:pid:random). */
  readonly id: string;
  /** The host name. */
  readonly host: string;
  /** The process id. */
  readonly pid: number;
  /** The queues it works, with each worker's concurrency (summed per queue). */
  readonly queues: ReadonlyArray<WorkerQueue>;
  /** When its first worker started. */
  readonly startedAt: Date;
  /** Its last heartbeat. */
  readonly heartbeatAt: Date;
  /** Seconds since its last heartbeat, on the database clock. */
  readonly heartbeatAgeSeconds: number;
  /**
   * The tasks it runs right now (at most 100, longest-running first): a
   * running task's `lease.workerId` ({@link TaskDetail}) is this `id`.
   */
  readonly running: ReadonlyArray<RunningTask>;
}

/** A task a registered process runs now. */
export interface RunningTask {
  /** The task id. */
  readonly id: string;
  /** Its queue. */
  readonly queue: string;
  /** Which attempt this is (1 for the first). */
  readonly attempt: number;
  /** The multi-step job run it is a step of, if any. */
  readonly jobId: string | null;
  /** Which step of the job it is (0-based), if any. */
  readonly stepIndex: number | null;
  /** When this attempt started. */
  readonly startedAt: Date | null;
}

/** A queue a registered process works, and how many of its tasks it runs at once. */
export interface WorkerQueue {
  /** The queue. */
  readonly queue: string;
  /** Its workers' concurrency in that process, summed. */
  readonly concurrency: number;
}

/**
 * One task in full, its input and output decoded by its definition's
 * schemas (see {@link Ops.task} with a definition): `V` is the decoded
 * input, `O` the decoded output.
 */
export interface TypedTaskDetail<V, O> extends Omit<TaskDetail, "input" | "output"> {
  /** The input, decoded by the definition's input schema. */
  readonly input: V;
  /** The output, decoded by the definition's output schema, once it succeeded; null otherwise. */
  readonly output: O | null;
}

/**
 * One reason a task is not running now (or a fact about where it is), as
 * `ops.explain` finds it: `kind` names it, `message` says it in a sentence,
 * the other fields carry the same facts typed.
 */
export type WaitReason =
  | DelayedReason
  | BackoffReason
  | PausedReason
  | KeyFullReason
  | QueuedReason
  | RateSpentReason
  | GroupTurnReason
  | NoWorkerReason
  | ClaimedReason
  | CancelRequestedReason
  | EndedReason
  | SnoozedReason
  | DeadlineReason;

/** Its handler snoozed it (`snooze(ms)`): pending, no attempt spent, until the snooze ends. */
export interface SnoozedReason {
  /** The reason's name. */
  readonly kind: "snoozed";
  /** When the snooze ends and it is due again. */
  readonly until: Date;
  /** How many times it has snoozed so far. */
  readonly snoozes: number;
  /** The reason in a sentence. */
  readonly message: string;
}

/**
 * It has a deadline to start by (`startBy`, `startWithinMs`). Holds nothing
 * back while ahead (`passed: false`: it only says when the task is
 * cancelled if still not started); once passed, the task never starts and
 * the reaper's next sweep ends it cancelled.
 */
export interface DeadlineReason {
  /** The reason's name. */
  readonly kind: "deadline";
  /** The deadline. */
  readonly startBy: Date;
  /** Whether it has passed: the task will not start. */
  readonly passed: boolean;
  /** The reason in a sentence. */
  readonly message: string;
}

/** Enqueued with a delay (or by a schedule) and not yet due; never attempted. */
export interface DelayedReason {
  /** The reason's name. */
  readonly kind: "delayed";
  /** When it falls due. */
  readonly until: Date;
  /** The key of a debounced task (`debounceMs`): each enqueue of it pushes the start back; else null. */
  readonly debounceKey: string | null;
  /** The reason in a sentence. */
  readonly message: string;
}

/** Waiting out the backoff after a failed attempt. */
export interface BackoffReason {
  /** The reason's name. */
  readonly kind: "backoff";
  /** When the backoff ends. */
  readonly until: Date;
  /** The attempts spent so far. */
  readonly attempt: number;
  /** The reason in a sentence. */
  readonly message: string;
}

/** Its queue is paused: nothing of it starts until it is resumed. */
export interface PausedReason {
  /** The reason's name. */
  readonly kind: "paused";
  /** When the queue was paused. */
  readonly since: Date;
  /** The reason in a sentence. */
  readonly message: string;
}

/** Its concurrency key has its limit of started tasks: it can start when one of them ends. */
export interface KeyFullReason {
  /** The reason's name. */
  readonly kind: "keyFull";
  /** The concurrency key. */
  readonly key: string;
  /** The key's limit. */
  readonly limit: number;
  /** The started tasks holding the key (at most 20, longest running first). */
  readonly heldBy: ReadonlyArray<string>;
  /** The earliest lease among them: were its worker dead, the reaper frees that slot then. */
  readonly leaseExpiresAt: Date | null;
  /** The reason in a sentence. */
  readonly message: string;
}

/**
 * Due, behind other due tasks the claim takes first (higher priority, then
 * earlier due, then lower id); for a task with a group, the tasks of its
 * group only (the groups' turns are a {@link GroupTurnReason}).
 */
export interface QueuedReason {
  /** The reason's name. */
  readonly kind: "queued";
  /** How many tasks are ahead, counted up to a bound. */
  readonly ahead: number;
  /** True when the count reached its bound: at least `ahead`. */
  readonly aheadAtLeast: boolean;
  /** The reason in a sentence. */
  readonly message: string;
}

/**
 * Its rate budget is spent (docs/flow-control.md, rate limits): the queue's
 * own, or its `rateLimitKey`'s, has had `limit` starts in the last
 * `periodMs`; it can start when the oldest of them leaves the window.
 */
export interface RateSpentReason {
  /** The reason's name. */
  readonly kind: "rateSpent";
  /** The budget's `rateLimitKey`; null for the queue's own budget. */
  readonly key: string | null;
  /** The limit in force. */
  readonly limit: number;
  /** The window, in milliseconds. */
  readonly periodMs: number;
  /** Starts of the budget in the window now. */
  readonly used: number;
  /** When the budget allows a start again (other tasks of the budget may take it first). */
  readonly until: Date;
  /** The reason in a sentence. */
  readonly message: string;
}

/**
 * Its group waits its turn (docs/flow-control.md, fair tenants): claims
 * take the queue's groups round-robin, and `groupsAhead` groups with
 * pending tasks take theirs first. Its group takes `weight` tasks a turn;
 * tasks of its own group ahead of it are counted by a `queued` reason.
 */
export interface GroupTurnReason {
  /** The reason's name. */
  readonly kind: "groupTurn";
  /** The task's group. */
  readonly group: string;
  /** Groups with pending tasks whose turn comes before its group's, counted up to a bound. */
  readonly groupsAhead: number;
  /** True when the count reached its bound: at least `groupsAhead`. */
  readonly groupsAheadAtLeast: boolean;
  /** Tasks its group takes per turn. */
  readonly weight: number;
  /** The reason in a sentence. */
  readonly message: string;
}

/** No live worker process works its queue. */
export interface NoWorkerReason {
  /** The reason's name. */
  readonly kind: "noWorker";
  /** The last heartbeat of a process that worked it, while its row is kept; null if none is known. */
  readonly lastSeenAt: Date | null;
  /** The reason in a sentence. */
  readonly message: string;
}

/** Claimed by a worker: running, or claimed ahead of a free key slot (`started: false`). */
export interface ClaimedReason {
  /** The reason's name. */
  readonly kind: "claimed";
  /** The claiming client's registry id. */
  readonly workerId: string | null;
  /** When its lease expires unless renewed: past it, the reaper gives the task back. */
  readonly leaseExpiresAt: Date | null;
  /** False while a prefetched keyed task waits for its key's slot in the worker. */
  readonly started: boolean;
  /** The reason in a sentence. */
  readonly message: string;
}

/** A cancel was requested: the task ends cancelled when its handler returns. */
export interface CancelRequestedReason {
  /** The reason's name. */
  readonly kind: "cancelRequested";
  /** When the cancel was requested. */
  readonly at: Date;
  /** The reason in a sentence. */
  readonly message: string;
}

/** It has ended and will not run again unless retried or redriven. */
export interface EndedReason {
  /** The reason's name. */
  readonly kind: "ended";
  /** How it ended. */
  readonly state: TaskState;
  /** When it ended. */
  readonly finishedAt: Date | null;
  /** The reason in a sentence. */
  readonly message: string;
}

/** What `ops.explain` says about one task: why it is not running, and when it may. */
export interface TaskExplanation {
  /** The task id. */
  readonly id: string;
  /** Its queue. */
  readonly queue: string;
  /** Its state now. */
  readonly state: TaskState;
  /** True when the task is pending and nothing but the tasks (or groups) ahead of it holds it back. */
  readonly runnable: boolean;
  /** Every reason found, blocking ones first. Empty for a due pending task with nothing ahead. */
  readonly reasons: ReadonlyArray<WaitReason>;
  /**
   * When it may start, estimated: the latest end of the reasons that end by
   * themselves, plus the tasks ahead at the queue's throughput of the last
   * five minutes. Null when a reason has no known end (a pause, a full key,
   * no worker, no throughput yet to estimate from) or the task is not pending.
   */
  readonly estimatedStartAt: Date | null;
  /** The database's clock when the facts were read. */
  readonly at: Date;
  /** One line: the first reason's message, or that it starts at the next claim. */
  readonly summary: string;
}

/** A keyed rate budget's use now (see {@link RateLimitInfo}). */
export interface RateKeyUse {
  /** The tasks' `rateLimitKey`. */
  readonly key: string;
  /** Starts in the current window (the period up to now). */
  readonly used: number;
  /** When it allows a start again, while it is spent; null when it has room. */
  readonly nextStartAt: Date | null;
}

/** A queue's rate limit: the setting in force, where it comes from, and its budgets' use now. */
export interface RateLimitInfo {
  /** The queue's name. */
  readonly queue: string;
  /** In force now; null: no limit. */
  readonly rateLimit: RateLimit | null;
  /**
   * Where `rateLimit` comes from: `operator` (a setting stored by
   * `ops.setRateLimit` or the CLI, also "off", overriding the definition's
   * until cleared), `definition` (as the last worker to start recorded it),
   * or `none`.
   */
  readonly source: "operator" | "definition" | "none";
  /** When the operator's setting was stored; null when none is. */
  readonly setAt: Date | null;
  /** The definition's, as the last worker to start recorded it; null when it sets none. */
  readonly defined: RateLimit | null;
  /** Starts of the queue's own budget (tasks without a `rateLimitKey`) in the current window. */
  readonly used: number;
  /** When the queue's own budget allows a start again, while it is spent; null when it has room. */
  readonly nextStartAt: Date | null;
  /** Keyed budgets with a start in the current window. */
  readonly activeKeys: number;
  /** Up to 20 of those, most recently used first. */
  readonly keys: ReadonlyArray<RateKeyUse>;
}

/** A queue's cap setting (`ops.maxPending`, `ops.setMaxPending`); see docs/flow-control.md#caps. */
export interface MaxPendingInfo {
  /** The queue's name. */
  readonly queue: string;
  /**
   * `operator`: an operator's setting is stored and wins (`maxPending`, null
   * for "no cap"); `definition`: none is, each enqueue's definition's
   * `maxPending` applies (the definition is not stored: `maxPending` is null here).
   */
  readonly source: "operator" | "definition";
  /** The operator's cap (null: no cap, or none stored). */
  readonly maxPending: number | null;
  /** When the operator's setting was stored, or null. */
  readonly setAt: Date | null;
  /**
   * Whether the queue's enqueues count its pending tasks: true when its
   * last registered definition (registered at a process's first enqueue,
   * worker or `declare` of the queue) has a `maxPending`; false when it has
   * none: no cap applies to its enqueues, and `setMaxPending` with a number
   * is refused; null while no definition of the queue was registered.
   */
  readonly counted: boolean | null;
}

/**
 * What {@link Ops.checkInputs} reads of a definition: any definition made by
 * `defineJob` or `defineStepJob`, whatever its input and output types.
 */
export type CheckedDefinition = Pick<
  JobDefinition<never, unknown, unknown, unknown>,
  "kind" | "queue" | "input" | "schemas"
>;

/** Options of {@link Ops.checkInputs}. */
export interface CheckInputsOptions {
  /** Failures listed in the result, lowest id first (all are counted): 0 to 100,000. Default 100. */
  readonly maxFailures?: number;
  /** Tasks read per statement: 1 to 10,000. Default 500. */
  readonly pageSize?: number;
  /**
   * A page also ends once its inputs hold this many bytes as stored (at
   * least one task a page, whatever its size): 1 to 1 GiB. Default 16 MiB.
   */
  readonly pageBytes?: number;
}

/** A pending or running task whose stored input today's schema refuses (see {@link Ops.checkInputs}). */
export interface InputFailure {
  /** The task id. */
  readonly id: string;
  /** Its queue. */
  readonly queue: string;
  /** Its state when it was read. */
  readonly state: "pending" | "in_progress";
  /** Which step of a multi-step job it is (0-based), if any. */
  readonly stepIndex: number | null;
  /** Why it does not decode: each bad field's path and what was expected (at most 1,000 characters). */
  readonly error: string;
}

/** What {@link Ops.checkInputs} found. */
export interface InputCheck {
  /** The queues read: those of the definitions, each once. */
  readonly queues: ReadonlyArray<string>;
  /** Pending and running tasks whose input was decoded. */
  readonly checked: number;
  /** Tasks read but not decoded: later steps of multi-step jobs, whose inputs no schema reads. */
  readonly skipped: number;
  /** Tasks whose input would fail to decode: all of them, listed or not. */
  readonly failed: number;
  /** The first `maxFailures` of them, by queue then id. */
  readonly failures: ReadonlyArray<InputFailure>;
}
