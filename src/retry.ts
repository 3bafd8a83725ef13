import * as TE from "fp-ts/lib/TaskEither.js";
import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import { capDelay, exponentialBackoff, limitRetries, monoidRetryPolicy } from "retry-ts/lib/index.js";
import { retrying } from "retry-ts/lib/Task.js";
import type { DbError } from "./errors.ts";

/**
 * How a failed task is retried: attempt n (1-based) that fails waits
 * `min(initialIntervalMs * backoffCoefficient^(n-1), maxIntervalMs)`, spread
 * uniformly by ±`jitter` of itself and never above `maxIntervalMs`.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. Default 5. */
  readonly maxAttempts: number;
  /** Default 1,000 ms. */
  readonly initialIntervalMs: number;
  /** Default 60,000 ms. */
  readonly maxIntervalMs: number;
  /** Default 2.0. */
  readonly backoffCoefficient: number;
  /** Fraction of the delay to randomise, 0 to 1. Default 0.5. */
  readonly jitter: number;
}

/** The policy a task gets when its options set none: 5 attempts, 1 s doubling up to 60 s, ±50 % jitter. */
export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  initialIntervalMs: 1_000,
  maxIntervalMs: 60_000,
  backoffCoefficient: 2,
  jitter: 0.5,
};

/** The policy's delay before the attempt after `attempt` (1-based). */
export const retryDelayMs = (
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number => {
  const base = Math.min(
    policy.initialIntervalMs * policy.backoffCoefficient ** Math.max(0, attempt - 1),
    policy.maxIntervalMs,
  );
  const spread = base * policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(policy.maxIntervalMs, Math.round(base + spread)));
};

/** Bounds within which {@link retryDelayMs} falls, for docs and tests. */
export const retryDelayBounds = (policy: RetryPolicy, attempt: number): readonly [number, number] => {
  const base = Math.min(
    policy.initialIntervalMs * policy.backoffCoefficient ** Math.max(0, attempt - 1),
    policy.maxIntervalMs,
  );
  return [
    Math.max(0, base * (1 - policy.jitter)),
    Math.min(policy.maxIntervalMs, base * (1 + policy.jitter)),
  ];
};

// Writes about a task's state are retried through a database restart (a
// few seconds) rather than lost; a lost completion would make the task run
// twice once its lease expires.
const dbRetryPolicy = capDelay(2_000, monoidRetryPolicy.concat(exponentialBackoff(50), limitRetries(30)));

/** Retries a database action while its error is transient. */
export const retryTransient = <A>(action: TE.TaskEither<DbError, A>): TE.TaskEither<DbError, A> =>
  retrying(
    dbRetryPolicy,
    () => action,
    (result) =>
      pipe(
        result,
        E.fold(
          (error) => error.transient,
          () => false,
        ),
      ),
  );
