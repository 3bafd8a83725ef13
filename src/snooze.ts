/** The longest snooze: what a timer holds (about 24.8 days). */
export const maxSnoozeMs = 2_147_483_647;

/**
 * What {@link snooze} throws: the worker puts the task back to pending for
 * `delayMs` without spending its attempt. Not meant to be caught: a handler
 * that catches every error must rethrow it (`if (e instanceof Snooze) throw e`).
 */
export class Snooze extends Error {
  /** Always `"Snooze"`. */
  override readonly name = "Snooze";

  /** @internal Made by {@link snooze} only, which checks `delayMs`. */
  constructor(
    /** How long the task sleeps before it is due again, in milliseconds. */
    readonly delayMs: number,
  ) {
    super(`snoozed for ${delayMs} ms`);
  }
}

/**
 * Ends the handler's attempt without spending it: the task goes back to
 * pending, due again in `ms` milliseconds, and its attempt counter and
 * retry budget are as they were (the next run is the same attempt number).
 * Its history records a `snoozed` event with the delay. Use it when the
 * task cannot make progress yet (a resource not ready, a partner's window
 * not open) and that is no failure.
 *
 * It throws, so `return snooze(ms)` and `throw snooze(ms)` both work and
 * the handler's return type is unchanged (the type is `never`). Works in a
 * multi-step job's steps too (the step runs again). A cancel requested
 * while the handler ran wins: the task ends cancelled. A task snoozed more
 * than its definition's `maxSnoozes` times (default 100) fails instead.
 *
 * `ms` must be a finite number from 0 to 2,147,483,647 (about 24.8 days);
 * anything else throws a `RangeError`, which fails the attempt like any
 * error.
 *
 * @example
 * underway.job(report).start(async ({ id }) => {
 *   if (!(await dataReady(id))) return snooze(60_000); // try again in a minute, no attempt spent
 *   return build(id);
 * });
 */
export const snooze = (ms: number): never => {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0 || ms > maxSnoozeMs)
    throw new RangeError(
      `snooze(ms): ms must be a finite number of milliseconds from 0 to ${maxSnoozeMs}, got ${String(ms).slice(0, 40)}`,
    );
  throw new Snooze(ms);
};
