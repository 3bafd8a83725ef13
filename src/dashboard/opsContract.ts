// The part of the ops API (OPS_API.md, branch `ops`) the dashboard reads and
// acts through. Written against the contract until `src/ops/` lands; then
// these types come from there.
import type { JsonValue } from "../json.ts";
import type { HistoryEntry } from "../history.ts";

/** @internal */
export type TaskState = "pending" | "in_progress" | "succeeded" | "cancelled" | "failed";

/** @internal */
export interface TaskFilter {
  readonly queue?: string | ReadonlyArray<string>;
  readonly state?: TaskState | ReadonlyArray<TaskState>;
  readonly ids?: ReadonlyArray<string>;
  readonly jobId?: string;
  readonly errorLike?: string;
  readonly inputContains?: JsonValue;
}

/** @internal */
export interface TaskSummary {
  readonly id: string;
  readonly queue: string;
  readonly state: TaskState;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: number;
  readonly concurrencyKey: string | null;
  readonly jobId: string | null;
  readonly stepIndex: number | null;
  readonly error: string | null;
  readonly runAt: Date;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

/** @internal */
export interface TaskDetail extends TaskSummary {
  readonly input: unknown;
  readonly output: unknown;
  readonly options: Readonly<Record<string, unknown>>;
  readonly lease: { readonly workerId: string; readonly expiresAt: Date } | null;
  readonly dlqFrom: string | null;
  readonly history: ReadonlyArray<HistoryEntry>;
}

/** @internal */
export interface Count {
  readonly count: number;
  readonly approximate: boolean;
}

/** @internal */
export interface QueueStats {
  readonly queue: string;
  readonly dlq: string | null;
  readonly pausedAt: Date | null;
  readonly counts: Readonly<Record<TaskState, Count>>;
  readonly oldestPendingAgeSeconds: number | null;
}

/** @internal */
export interface ThroughputBucket {
  readonly queue: string;
  readonly at: Date;
  readonly enqueued: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly retried: number;
  readonly cancelled: number;
}

/** @internal */
export interface BulkOptions {
  readonly dryRun?: boolean;
  readonly limit?: number;
}

/** @internal */
export interface BulkResult {
  readonly matched: number;
  readonly changed: number;
  readonly dryRun: boolean;
}

/** @internal */
export interface ScheduleInfo {
  readonly queue: string;
  readonly expression: string;
  readonly timeZone: string;
  readonly input: unknown;
  readonly nextRuns: ReadonlyArray<Date>;
}

/** @internal */
export interface WorkerInfo {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly queues: ReadonlyArray<{ readonly queue: string; readonly concurrency: number }>;
  readonly startedAt: Date;
  readonly heartbeatAt: Date;
  readonly heartbeatAgeSeconds: number;
}

/** @internal */
export interface OpsApi {
  queues(): Promise<ReadonlyArray<QueueStats>>;
  tasks(
    filter?: TaskFilter,
    options?: { readonly limit?: number; readonly after?: string; readonly order?: "newest" | "oldest" },
  ): Promise<{ readonly tasks: ReadonlyArray<TaskSummary>; readonly next: string | null }>;
  task(id: string): Promise<TaskDetail | undefined>;
  throughput(options?: {
    readonly queue?: string;
    readonly since?: Date;
  }): Promise<ReadonlyArray<ThroughputBucket>>;
  retry(filter: TaskFilter, options?: BulkOptions): Promise<BulkResult>;
  cancel(filter: TaskFilter, options?: BulkOptions): Promise<BulkResult>;
  delete(filter: TaskFilter, options?: BulkOptions): Promise<BulkResult>;
  redrive(dlq: string, filter?: TaskFilter, options?: BulkOptions): Promise<BulkResult>;
  pause(queue: string): Promise<void>;
  resume(queue: string): Promise<void>;
  schedules(options?: { readonly nextRuns?: number }): Promise<ReadonlyArray<ScheduleInfo>>;
  workers(): Promise<ReadonlyArray<WorkerInfo>>;
}
