import type { SchedulerLike } from "rxjs";
import { ConfigError } from "../errors.ts";
import { checkOptionShape, type OptionRule, type OptionShape } from "../optionShape.ts";

/** How a worker runs. Every field has a default. */
export interface WorkOptions {
  /** Tasks run at once by this worker: an integer from 1 to 100,000. Default 10. */
  readonly concurrency?: number;
  /**
   * Tasks claimed ahead of free slots and held locally (leases renewed), so
   * a busy worker claims in batches and never waits on a claim. Claimed but
   * unstarted tasks go back to pending on stop, and after `prefetchHoldMs`
   * unstarted (so long handlers do not hoard them). A prefetched task with a
   * concurrency key takes its key's slot only when it starts. An integer
   * from 0 (claim only for free slots) to 100,000. Default: 100, or
   * `concurrency` if larger (docs/performance.md has the figures behind it).
   */
  readonly prefetch?: number;
  /**
   * How long a prefetched task may wait here for a slot before it goes back
   * to pending for other workers, so a worker with long handlers does not
   * hoard tasks idle workers could run. After one goes back, this worker
   * claims only for free slots for as long again. At least 10 ms. Default 5,000 ms.
   */
  readonly prefetchHoldMs?: number;
  /**
   * Fallback poll for lost notifications; delayed tasks and retries wake the
   * worker on time without it. At least 10 ms. Default 1,000 ms.
   */
  readonly pollIntervalMs?: number;
  /**
   * How often leases are checked for renewal (each is renewed at a third of
   * its length); a task whose lease is shorter than four ticks makes the
   * worker tick faster from then on. At least 10 ms. Default 500 ms.
   */
  readonly heartbeatTickMs?: number;
  /**
   * How often expired leases are returned to pending while this worker runs.
   * One sweep per client covers every queue, at the shortest interval its
   * running workers ask for. 0: this worker asks for none. Else at least 10 ms. Default 5,000 ms.
   */
  readonly reapIntervalMs?: number;
  /** On stop, how long in-flight tasks may run before their signal fires. At least 0. Default 30,000 ms. */
  readonly shutdownGraceMs?: number;
  /** For tests on virtual time. */
  readonly scheduler?: SchedulerLike;
}

// Enough to carry a busy worker through a round trip without an idle slot
// (a drain of no-op tasks ran 1.8x faster than with 10, 8,771 vs 4,867
// tasks/s in benchmarks/profile.ts: docs/performance.md);
// few enough that tasks go back soon when handlers are slow (prefetchHoldMs).
const defaultPrefetch = 100;

/** `WorkOptions` with every default filled in. */
export interface ResolvedWorkOptions {
  readonly concurrency: number;
  readonly prefetch: number;
  readonly prefetchHoldMs: number;
  readonly pollIntervalMs: number;
  readonly heartbeatTickMs: number;
  readonly reapIntervalMs: number;
  readonly shutdownGraceMs: number;
  readonly scheduler: SchedulerLike | undefined;
}

// The longest delay a Node timer takes: a longer one fires after 1 ms.
const maxTimerMs = 2_147_483_647;
const maxCount = 100_000;

/** An RxJS `SchedulerLike`, recognised by its methods. */
export const schedulerRule: OptionRule = {
  is: (value) =>
    typeof value === "object" &&
    value !== null &&
    typeof (value as SchedulerLike).now === "function" &&
    typeof (value as SchedulerLike).schedule === "function",
  expected: "an RxJS SchedulerLike",
};

/** A delay for a Node timer, at least `min` (a longer one fires after 1 ms). */
const millis = (min: number): OptionRule => ({ type: "number", min, max: maxTimerMs });

// Options of job.startBatch only (./batchOptions.ts).
const batchOnly = ["batchSize", "batchWaitMs"] as const;

/** Every work option, its type and range. */
export const workOptionShape: OptionShape = {
  concurrency: { type: "integer", min: 1, max: maxCount },
  // Prefetch is on top of the running tasks, so any count from 0 is sane.
  prefetch: { type: "integer", min: 0, max: maxCount },
  prefetchHoldMs: millis(10),
  // Below 10 ms a poll is a busy loop (0 burned half a core).
  pollIntervalMs: millis(10),
  heartbeatTickMs: millis(10),
  reapIntervalMs: {
    is: (value) => typeof value === "number" && (value === 0 || (value >= 10 && value <= maxTimerMs)),
    expected: `a number of ms, 0 or from 10 to ${maxTimerMs}`,
  },
  shutdownGraceMs: millis(0),
  scheduler: schedulerRule,
};

/**
 * Validates a worker's options and fills in the defaults, synchronously:
 * throws `ConfigError` naming the option and (a prefix of) the bad value.
 * Call it before anything starts, so a bad option never surfaces as an
 * error inside a subscription.
 *
 * @example
 * checkWorkOptions({ concurrency: 0 }); // throws ConfigError: concurrency must be an integer from 1 to 100000, got 0
 */
export const checkWorkOptions = (options: WorkOptions = {}): ResolvedWorkOptions => {
  // A batch option given to a one-task handler's worker: say where it belongs.
  if (typeof options === "object" && options !== null)
    for (const key of batchOnly)
      if (Object.hasOwn(options, key))
        throw new ConfigError(
          `invalid work option: ${key} is an option of a batch handler's worker (job.startBatch, job.workBatch), not of start or work`,
        );
  checkOptionShape("invalid work option", options, workOptionShape);
  const concurrency = options.concurrency ?? 10;
  return {
    concurrency,
    prefetch: options.prefetch ?? Math.max(defaultPrefetch, concurrency),
    prefetchHoldMs: options.prefetchHoldMs ?? 5_000,
    pollIntervalMs: options.pollIntervalMs ?? 1_000,
    heartbeatTickMs: options.heartbeatTickMs ?? 500,
    reapIntervalMs: options.reapIntervalMs ?? 5_000,
    shutdownGraceMs: options.shutdownGraceMs ?? 30_000,
    scheduler: options.scheduler,
  };
};
