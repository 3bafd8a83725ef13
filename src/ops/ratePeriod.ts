import type { RateLimit } from "../definition.ts";

// Periods as operators type them: a number and a unit, the unit ms when none.
const unitsMs: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The longest period a queue's row holds (an integer column of milliseconds: about 24.8 days). */
export const maxPeriodMs = 2_147_483_647;

/**
 * A period as typed on the command line or in the dashboard's form
 * (`500ms`, `1s`, `10m`, `1h`, `1d`, or plain milliseconds), in
 * milliseconds; undefined when it is not one, or not from 1 ms to
 * {@link maxPeriodMs}.
 */
export const periodMsOf = (text: string): number | undefined => {
  const match = /^\s*(\d{1,10})\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (match === null) return undefined;
  const ms = Number(match[1]) * (unitsMs[match[2] ?? "ms"] ?? 1);
  return ms >= 1 && ms <= maxPeriodMs ? ms : undefined;
};

/** A period in its largest whole unit: `1s`, `90s`, `10m`, `250ms`. */
export const formatPeriod = (ms: number): string => {
  for (const unit of ["d", "h", "m", "s"] as const) {
    const size = unitsMs[unit] ?? 1;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
};

/** A rate limit as people say it: `50 per 1s`; `none` for none. */
export const formatRateLimit = (rateLimit: RateLimit | null): string =>
  rateLimit === null ? "none" : `${rateLimit.limit} per ${formatPeriod(rateLimit.periodMs)}`;
