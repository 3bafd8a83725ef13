import type { SchedulerLike } from "rxjs";
import type { OptionShape } from "../optionShape.ts";
import { schedulerRule } from "../worker/workOptions.ts";

/** How a scheduler runs. Every field has a default. */
export interface SchedulerOptions {
  /** Fallback re-read of the schedule, for lost notifications. Default 10,000 ms. */
  readonly refreshIntervalMs?: number;
  /** Most missed ticks one catch-up enqueues (the latest ones; older are skipped). Default 100. */
  readonly maxCatchUp?: number;
  /** Wait before retrying a tick whose database write failed. Default 1,000 ms. */
  readonly retryDelayMs?: number;
  /** Timers run on it and its `now()` is the clock: inject one for tests. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
}

// The longest delay a Node timer takes.
const maxTimerMs = 2_147_483_647;

/** What `runScheduler` and `scheduler$` take, checked before anything starts. */
export const schedulerOptionShape: OptionShape = {
  refreshIntervalMs: { type: "number", min: 1, max: maxTimerMs },
  maxCatchUp: { type: "integer", min: 1, max: maxTimerMs },
  retryDelayMs: { type: "number", min: 0, max: maxTimerMs },
  scheduler: schedulerRule,
};

/** A tick this scheduler enqueued (ticks other schedulers took are not reported here). */
export interface TickEvent {
  /** The queue whose schedule ticked, and where the task was enqueued. */
  readonly queue: string;
  /** The tick's time, as the cron expression gives it. */
  readonly tickAt: Date;
  /** The task enqueued; null when the job's `uniqueKey` option made it a duplicate. */
  readonly taskId: string | null;
}
