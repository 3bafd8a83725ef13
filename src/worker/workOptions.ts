import type { SchedulerLike } from "rxjs";
import { ConfigError } from "../errors.ts";

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

/** A bounded, printable prefix of any value, for error messages (never throws). */
const echo = (value: unknown): string => {
  let text: string;
  try {
    text = typeof value === "string" ? JSON.stringify(value) : String(value);
  } catch {
    text = `a value of type ${typeof value}`;
  }
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
};

const fail = (name: string, rule: string, value: unknown): never => {
  throw new ConfigError(`invalid work option: ${name} must be ${rule}, got ${echo(value)}`);
};

const integer = (name: string, value: unknown, min: number, max: number): number =>
  typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
    ? value
    : fail(name, `an integer from ${min} to ${max}`, value);

const millis = (name: string, value: unknown, min: number, allowZero = false): number =>
  typeof value === "number" &&
  Number.isFinite(value) &&
  value <= maxTimerMs &&
  (value >= min || (allowZero && value === 0))
    ? value
    : fail(
        name,
        `a finite number of ms ${allowZero ? `(0, or from ${min}` : `(from ${min}`} to ${maxTimerMs})`,
        value,
      );

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
  // Only a missing option takes its default: null is a bad value like any other.
  const or = <A>(value: A | undefined, fallback: A): A => (value === undefined ? fallback : value);
  if (typeof options !== "object" || options === null) fail("options", "an object", options);
  const concurrency = integer("concurrency", or(options.concurrency, 10), 1, maxCount);
  const scheduler = options.scheduler;
  if (
    scheduler !== undefined &&
    (typeof scheduler !== "object" ||
      scheduler === null ||
      typeof scheduler.now !== "function" ||
      typeof scheduler.schedule !== "function")
  ) {
    fail("scheduler", "an RxJS SchedulerLike", scheduler);
  }
  return {
    concurrency,
    // Prefetch is on top of the running tasks, so any count from 0 is sane.
    prefetch: integer("prefetch", or(options.prefetch, Math.max(defaultPrefetch, concurrency)), 0, maxCount),
    prefetchHoldMs: millis("prefetchHoldMs", or(options.prefetchHoldMs, 5_000), 10),
    // Below 10 ms a poll is a busy loop (0 burned half a core).
    pollIntervalMs: millis("pollIntervalMs", or(options.pollIntervalMs, 1_000), 10),
    heartbeatTickMs: millis("heartbeatTickMs", or(options.heartbeatTickMs, 500), 10),
    reapIntervalMs: millis("reapIntervalMs", or(options.reapIntervalMs, 5_000), 10, true),
    shutdownGraceMs: millis("shutdownGraceMs", or(options.shutdownGraceMs, 30_000), 0),
    scheduler,
  };
};
