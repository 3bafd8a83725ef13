export { Underway, type UnderwayOptions, type Stoppable } from "./underway.ts";
export {
  defineJob,
  defineStepJob,
  type DefinitionConfig,
  type JobDefinition,
  type TaskDefinition,
  type StepJobDefinition,
  type OutputOf,
  type ReturnOf,
  type RateLimit,
} from "./definition.ts";
export type { Schema, SchemaInput, SchemaOutput } from "./codec.ts";
export type { StandardSchemaV1 } from "./standardSchema.ts";
export type { JsonValue } from "./json.ts";
export {
  Job,
  type EnqueueOptions,
  type EnqueueResult,
  type EnqueueStatus,
  type Worker,
  type EnqueueBatchOptions,
  type EnqueuedBatch,
  type TaskProgress,
} from "./job.ts";
export { BatchCompletion, batchCompletion, batchFailedIdsCap } from "./batches/batchCompletion.ts";
export type { BatchInfo, FanOutInfo, JobFanOut } from "./ops/batchInfo.ts";
export {
  Steps,
  StepJob,
  next,
  nextAfter,
  done,
  type Next,
  type Done,
  type StepContext,
  type StepOptions,
  type StepAttempt,
  type JobOutcome,
  type StepOutput,
  type FannedOut,
} from "./steps/stepJob.ts";
export {
  fanOut,
  child,
  maxFanOutChildren,
  type Child,
  type ChildOptions,
  type ChildResult,
  type FanOut,
  type FanOutOptions,
  type FanOutPolicy,
  type OutputsOf,
  type ResultsOf,
} from "./steps/fanOut.ts";
export {
  schedule,
  unschedule,
  parseSchedule,
  formatSchedule,
  nextTick,
  ticksBetween,
  type ScheduleSpec,
  type ScheduleOptions,
  type Schedulable,
} from "./schedule/schedule.ts";
export {
  runScheduler,
  scheduler$,
  type Scheduler,
  type SchedulerOptions,
  type TickEvent,
} from "./schedule/scheduler.ts";
export {
  migrate,
  pendingMigrations,
  type MigrateOptions,
  type MigrateResult,
  type PendingMigration,
} from "./migrate.ts";
export { defaultRetryPolicy, retryDelayMs, retryDelayBounds, type RetryPolicy } from "./retry.ts";
export { defaultTaskOptions, type TaskOptions, type TaskOptionsInput } from "./options.ts";
export { isFinal, type Outcome, type FinalOutcome, type OutcomeBase } from "./outcomes.ts";
export type { Handler, TaskContext } from "./worker/execute.ts";
export {
  transactional,
  type TransactionalContext,
  type TransactionalHandler,
  type WithTransaction,
} from "./worker/transactional.ts";
export type { TransactionClient } from "./worker/guardedClient.ts";
export type { RunOnceOptions, DrainOptions, DrainResult } from "./worker/runOnce.ts";
export type { WorkOptions } from "./worker/worker.ts";
export type { BatchWorkOptions } from "./worker/batchOptions.ts";
export { BatchResult, BatchResultError, type BatchHandler, type BatchTask } from "./worker/batchResult.ts";
export type { ListenerOptions } from "./notify/listener.ts";
export type { AttemptRow } from "./db/historyQueries.ts";
export type { Queryable } from "./db/query.ts";
export { consoleLogger, silentLogger, type LogLevel, type Logger } from "./log.ts";
export {
  UnderwayError,
  ValidationError,
  DatabaseError,
  ConfigError,
  QueueFullError,
  ClosedError,
  MigrationError,
  FatalError,
  TaskFailedError,
  AbortError,
  type AbortKind,
  type DbError,
  type DecodeError,
  type TaskFailure,
} from "./errors.ts";
export { snooze, Snooze } from "./snooze.ts";
export { sweepExpired, startRetention, type SweepOptions, type RetentionOptions } from "./retention.ts";
export { redrive, type RedriveOptions, type RedriveFilter } from "./redrive.ts";
export { taskHistory, type HistoryEntry } from "./history.ts";
export type {
  TaskEvent,
  TaskEventTag,
  EventBase,
  AttemptEventBase,
  AttemptEndBase,
} from "./events/taskEvent.ts";
export {
  prometheusMetrics,
  type PrometheusMetrics,
  type PrometheusOptions,
  type PrometheusRegistry,
  type MetricsResponse,
} from "./metrics/prometheusMetrics.ts";
export {
  openTelemetry,
  type TelemetryOptions,
  type Telemetry,
  type TracerProviderLike,
  type MeterProviderLike,
} from "./telemetry/openTelemetry.ts";
export type { EventRow } from "./db/historyQueries.ts";
export { dashboard, type DashboardHandler } from "./dashboard/dashboard.ts";
export { dashboardListener, type DashboardListener } from "./dashboard/dashboardListener.ts";
export {
  serveDashboard,
  type ServeDashboardOptions,
  type DashboardServer,
} from "./dashboard/serveDashboard.ts";
export type {
  DashboardOptions,
  DashboardRole,
  DashboardRequestInfo,
  DashboardAuditEvent,
} from "./dashboard/dashboardOptions.ts";
export { Ops } from "./ops/ops.ts";
export type {
  TaskState,
  TaskFilter,
  TaskSummary,
  TaskPage,
  ListOptions,
  TaskDetail,
  AttemptLog,
  StoredProgress,
  TaskLogLine,
  TypedTaskDetail,
  TaskDetailOptions,
  TaskLease,
  WorkerQueue,
  RunningTask,
  Count,
  QueueStats,
  PendingCounts,
  ThroughputBucket,
  BulkOptions,
  BulkResult,
  ScheduleInfo,
  WorkerInfo,
  TaskExplanation,
  WaitReason,
  DelayedReason,
  BackoffReason,
  PausedReason,
  KeyFullReason,
  QueuedReason,
  NoWorkerReason,
  ClaimedReason,
  CancelRequestedReason,
  EndedReason,
  SnoozedReason,
  DeadlineReason,
  GroupStats,
  MaxPendingInfo,
  RateLimitInfo,
  RateKeyUse,
  CheckedDefinition,
  CheckInputsOptions,
  InputCheck,
  InputFailure,
  RateSpentReason,
  GroupTurnReason,
} from "./ops/types.ts";
export type { TaskLogsOptions } from "./ops/taskLogs.ts";
