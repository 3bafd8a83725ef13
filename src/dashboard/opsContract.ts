// The ops API types the dashboard reads (src/ops/), and the slice of `Ops`
// it calls: the pages depend on this much and no more.
import type { Ops } from "../ops/ops.ts";

export type {
  AttemptLog,
  BulkOptions,
  BulkResult,
  Count,
  MaxPendingInfo,
  GroupStats,
  QueueStats,
  RateLimitInfo,
  ScheduleInfo,
  TaskDetail,
  TaskExplanation,
  TaskFilter,
  TaskState,
  TaskSummary,
  ThroughputBucket,
  WorkerInfo,
} from "../ops/types.ts";
export type { JobFanOut } from "../ops/batchInfo.ts";

/** @internal */
export type OpsApi = Pick<
  Ops,
  | "queues"
  | "tasks"
  | "task"
  | "taskLogs"
  | "explain"
  | "throughput"
  | "retry"
  | "cancel"
  | "delete"
  | "redrive"
  | "pause"
  | "resume"
  | "rateLimit"
  | "setRateLimit"
  | "clearRateLimit"
  | "maxPending"
  | "setMaxPending"
  | "clearMaxPending"
  | "schedules"
  | "unschedule"
  | "runSchedule"
  | "workers"
  | "groups"
  | "batch"
  | "fanOuts"
>;
