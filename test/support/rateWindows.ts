// Reads back the attempts a rate-limited queue started and checks them
// against the rule, from what the database recorded (microseconds, one
// clock for every process): each attempt's start is in task_attempt (those
// that did not succeed) or in task_finished (the successful one).
import type pg from "pg";

/** Per budget ('' for the queue's own): its starts, the most in any window, and how many windows went over. */
export interface BudgetWindows {
  readonly key: string;
  readonly starts: number;
  /** The most starts in any half-open window [start, start + period) that begins at a start. */
  readonly most: number;
  /** Windows (one per start that begins one) holding more than the limit. */
  readonly over: number;
  /** Seconds from the budget's first start to its last. */
  readonly spanSeconds: number;
  /** Its first and last start. */
  readonly firstAt: Date;
  readonly lastAt: Date;
  /**
   * The mean time, in ms, from a start to the start `limit` places later,
   * which the rule lets happen one period after it at the earliest: the
   * period plus the time the limiter took to use the freed room. Null with
   * no more than `limit` starts.
   */
  readonly reuseMs: number | null;
}

/**
 * Every budget of `queue`, its starts counted in the window that begins at
 * each start: the densest window of a set of points always begins at one
 * of them, so this finds the worst one exactly.
 */
export const budgetWindows = async (
  pool: pg.Pool,
  schema: string,
  queue: string,
  limit: number,
  periodMs: number,
): Promise<ReadonlyArray<BudgetWindows>> => {
  const { rows } = await pool.query<BudgetWindows>(
    `with attempts as (
       select a.task_id, a.attempt, a.started_at from ${schema}.task_attempt a
        where a.started_at is not null
       union
       select f.id, f.attempt, f.started_at from ${schema}.task_finished f
        where f.state = 'succeeded' and f.started_at is not null
     ), starts as (
       select coalesce(t.rate_key, '') as key, a.started_at
         from attempts a join ${schema}.task_all t on t.id = a.task_id
        where t.queue_name = $1
     ), windows as (
       select key, started_at,
              count(*) over (partition by key order by started_at
                             range between current row and $2::interval following) as n,
              started_at - lag(started_at, $3) over (partition by key order by started_at) as reuse
         from starts
     )
     select key, count(*)::int as starts, max(n)::int as most,
            (count(*) filter (where n > $3))::int as over,
            extract(epoch from max(started_at) - min(started_at))::float8 as "spanSeconds",
            min(started_at) as "firstAt", max(started_at) as "lastAt",
            (extract(epoch from avg(reuse)) * 1000)::float8 as "reuseMs"
       from windows group by key order by key`,
    // Half-open: a start exactly one period later is in the next window.
    [queue, `${periodMs * 1000 - 1} microseconds`, limit],
  );
  return rows;
};

/**
 * Starts per period over the whole run of a budget whose backlog kept it
 * busy: after the first window's `limit` starts, each later start waited
 * for an earlier one to leave the window, so a limiter that lost no time
 * starts the other `starts - limit` within `(starts - limit) / limit`
 * periods of the first. It counts the first window's ramp too: starts
 * spread over that window (workers still claiming their first batches)
 * stay spread in every later one.
 */
export const overallRate = (windows: BudgetWindows, limit: number, periodMs: number): number =>
  windows.spanSeconds === 0 ? Infinity : ((windows.starts - limit) / windows.spanSeconds) * (periodMs / 1000);

/**
 * Starts per period once the budget is what holds tasks back: `limit`
 * starts per reuse time (the period, plus the time the limiter took to
 * start a task after room freed). The limiter's own pace, whatever the ramp.
 */
export const sustainedRate = (windows: BudgetWindows, limit: number, periodMs: number): number =>
  windows.reuseMs === null ? Infinity : (limit * periodMs) / windows.reuseMs;
