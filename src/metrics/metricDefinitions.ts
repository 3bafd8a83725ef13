import type { TaskEvent } from "../events/taskEvent.ts";

/** @internal A counter or histogram fed by lifecycle events. */
export interface EventMetric {
  readonly kind: "counter" | "histogram";
  /** Prometheus name after the prefix (`underway_` by default). */
  readonly prometheus: string;
  /** OpenTelemetry name; its Prometheus export is the name above. */
  readonly otel: string;
  readonly help: string;
  readonly labels: ReadonlyArray<"queue" | "outcome">;
  /** Histogram buckets, seconds. */
  readonly buckets?: ReadonlyArray<number>;
}

/** @internal A gauge read from the database (the ops API) at scrape time. */
export interface GaugeMetric {
  readonly prometheus: string;
  readonly otel: string;
  readonly unit: string;
  readonly help: string;
  readonly labels: ReadonlyArray<"queue" | "state">;
}

// Handlers run from milliseconds to the 15 min default timeout.
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];
// From a NOTIFY wake-up (milliseconds) to a backlog (hours).
const waitBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
// One statement: sub-millisecond to a lock wait.
const claimBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** @internal The metrics fed by lifecycle events, by key. */
export const eventMetrics = {
  enqueued: {
    kind: "counter",
    prometheus: "tasks_enqueued_total",
    otel: "underway.tasks.enqueued",
    help: "Tasks enqueued by this process.",
    labels: ["queue"],
  },
  enqueueRejected: {
    kind: "counter",
    prometheus: "tasks_enqueue_rejected_total",
    otel: "underway.tasks.enqueue_rejected",
    help: "Tasks this process's enqueues did not write because their queue was full (maxPending, QueueFullError).",
    labels: ["queue"],
  },
  completed: {
    kind: "counter",
    prometheus: "tasks_completed_total",
    otel: "underway.tasks.completed",
    help: "Tasks this process ran to success.",
    labels: ["queue"],
  },
  failed: {
    kind: "counter",
    prometheus: "tasks_failed_total",
    otel: "underway.tasks.failed",
    help: "Tasks this process failed for good (retries exhausted, fatal error), dead-lettered or not.",
    labels: ["queue"],
  },
  retried: {
    kind: "counter",
    prometheus: "tasks_retried_total",
    otel: "underway.tasks.retried",
    help: "Failed attempts in this process whose task will run again.",
    labels: ["queue"],
  },
  snoozed: {
    kind: "counter",
    prometheus: "tasks_snoozed_total",
    otel: "underway.tasks.snoozed",
    help: "Attempts in this process whose handler snoozed (snooze(ms)): the task is pending again, no attempt spent.",
    labels: ["queue"],
  },
  deadLettered: {
    kind: "counter",
    prometheus: "tasks_dead_lettered_total",
    otel: "underway.tasks.dead_lettered",
    help: "Tasks this process moved to their queue's dead-letter queue.",
    labels: ["queue"],
  },
  redriven: {
    kind: "counter",
    prometheus: "tasks_redriven_total",
    otel: "underway.tasks.redriven",
    help: "Tasks this process moved out of a dead-letter queue (label: the dead-letter queue).",
    labels: ["queue"],
  },
  leasesExpired: {
    kind: "counter",
    prometheus: "leases_expired_total",
    otel: "underway.leases.expired",
    help: "Tasks whose lease expired (worker died or hung), returned by this process's reaper.",
    labels: ["queue"],
  },
  duration: {
    kind: "histogram",
    prometheus: "task_duration_seconds",
    otel: "underway.task.duration",
    help: "Attempt run time in this process, from start to its result written, by how it ended.",
    labels: ["queue", "outcome"],
    buckets: durationBuckets,
  },
  wait: {
    kind: "histogram",
    prometheus: "task_wait_seconds",
    otel: "underway.task.wait",
    help: "Time from when a task was due to its claim by a worker (database clock).",
    labels: ["queue"],
    buckets: waitBuckets,
  },
  claim: {
    kind: "histogram",
    prometheus: "claim_duration_seconds",
    otel: "underway.claim.duration",
    help: "Duration of a worker's claim statement.",
    labels: ["queue"],
    buckets: claimBuckets,
  },
} as const satisfies Record<string, EventMetric>;

/** @internal Key of an event-fed metric. */
export type EventMetricKey = keyof typeof eventMetrics;

/** @internal The gauges read from the database at scrape time, by key. */
export const gaugeMetrics = {
  tasks: {
    prometheus: "tasks",
    otel: "underway.tasks",
    unit: "{task}",
    help: "Tasks by queue and state, in the database (approximate where the ops API says so).",
    labels: ["queue", "state"],
  },
  oldestPendingAge: {
    prometheus: "queue_oldest_pending_age_seconds",
    otel: "underway.queue.oldest_pending_age",
    unit: "s",
    help: "Age of the oldest pending task that is due, per queue (absent when none waits).",
    labels: ["queue"],
  },
  heartbeatAge: {
    prometheus: "worker_heartbeat_age_seconds",
    otel: "underway.worker.heartbeat_age",
    unit: "s",
    help: "Oldest heartbeat among the live workers of each queue, in seconds.",
    labels: ["queue"],
  },
  nextRun: {
    prometheus: "schedule_next_run_timestamp_seconds",
    otel: "underway.schedule.next_run_timestamp",
    unit: "s",
    help: "When each queue's schedule next fires, Unix time in seconds.",
    labels: ["queue"],
  },
  rateLimit: {
    prometheus: "queue_rate_limit_starts",
    otel: "underway.queue.rate_limit.starts",
    unit: "{start}",
    help: "Starts a queue's rate limit allows per window (absent when it has none).",
    labels: ["queue"],
  },
  ratePeriod: {
    prometheus: "queue_rate_limit_period_seconds",
    otel: "underway.queue.rate_limit.period",
    unit: "s",
    help: "The window of a queue's rate limit, in seconds (absent when it has none).",
    labels: ["queue"],
  },
  rateUsed: {
    prometheus: "queue_rate_budget_used",
    otel: "underway.queue.rate_budget.used",
    unit: "{start}",
    help: "Starts counted against a rate-limited queue's own budget (tasks without a rateLimitKey) in the window ending now.",
    labels: ["queue"],
  },
  rateKeys: {
    prometheus: "queue_rate_budget_active_keys",
    otel: "underway.queue.rate_budget.active_keys",
    unit: "{key}",
    help: "Keyed rate budgets (rateLimitKey) of a rate-limited queue with a start in the window ending now.",
    labels: ["queue"],
  },
  groups: {
    prometheus: "queue_groups",
    otel: "underway.queue.groups",
    unit: "{group}",
    help: "Groups (fair tenants) of a queue with pending or running tasks or a weight set, counted up to 1,000 (absent when it has none).",
    labels: ["queue"],
  },
} as const satisfies Record<string, GaugeMetric>;

/** @internal Key of a gauge. */
export type GaugeMetricKey = keyof typeof gaugeMetrics;

/** @internal What a metrics backend (Prometheus, OpenTelemetry) does with an event. */
export interface MetricRecorder {
  count(key: EventMetricKey, queue: string, by: number): void;
  observe(key: EventMetricKey, queue: string, seconds: number, outcome?: string): void;
}

/** How an attempt ended, as the `outcome` label of the duration histogram. */
const outcomeLabel: Partial<Record<TaskEvent["_tag"], string>> = {
  succeeded: "succeeded",
  retrying: "retrying",
  failed: "failed",
  cancelled: "cancelled",
  leaseLost: "lease_lost",
  snoozed: "snoozed",
};

/** @internal Feeds one event to a backend: the one mapping from events to metrics. */
export const recordEvent = (recorder: MetricRecorder, event: TaskEvent): void => {
  switch (event._tag) {
    case "enqueued":
      return recorder.count("enqueued", event.queue, event.count);
    case "enqueueRejected":
      return recorder.count("enqueueRejected", event.queue, event.count);
    case "claimed":
      return recorder.observe("claim", event.queue, event.durationMs / 1000);
    case "started":
      return recorder.observe("wait", event.queue, Math.max(0, event.waitMs) / 1000);
    case "deadLettered":
      return recorder.count("deadLettered", event.queue, 1);
    case "leasesExpired":
      return recorder.count("leasesExpired", event.queue, event.count);
    case "redriven":
      return recorder.count("redriven", event.queue, event.count);
    case "succeeded":
    case "retrying":
    case "failed":
    case "cancelled":
    case "snoozed":
    case "leaseLost": {
      recorder.observe("duration", event.queue, event.runMs / 1000, outcomeLabel[event._tag]);
      if (event._tag === "succeeded") recorder.count("completed", event.queue, 1);
      else if (event._tag === "retrying") recorder.count("retried", event.queue, 1);
      else if (event._tag === "failed") recorder.count("failed", event.queue, 1);
      else if (event._tag === "snoozed") recorder.count("snoozed", event.queue, 1);
      return;
    }
  }
};
