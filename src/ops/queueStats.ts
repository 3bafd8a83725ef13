import { orThrow } from "../errors.ts";
import type { Db } from "../client/clientDeps.ts";
import type { CountRow } from "../db/opsQueries.ts";
import { taskStates, type Count, type QueueStats, type TaskState } from "./types.ts";

/**
 * Pairs the planner estimates at or below this are counted exactly (a
 * range scan of at most this many index entries); larger ones report the
 * estimate, marked approximate.
 */
export const exactCountBound = 1_000;

/**
 * An exact count when the bounded count stayed within its bound. When it
 * did not, the planner's estimate, approximate; the count is at least the
 * bound, so never less than that (a stale estimate, rows having come since
 * the last ANALYZE).
 */
const countOf = (row: CountRow | undefined): Count => {
  if (row === undefined) return { count: 0, approximate: false };
  if (row.exact !== null && row.exact <= exactCountBound) return { count: row.exact, approximate: false };
  return { count: Math.max(Math.round(row.estimate), row.exact ?? 0), approximate: true };
};

/** Every queue with its counts per state, pause and backlog age; see {@link Ops.queues}. */
export const queueStats = async (deps: Db): Promise<ReadonlyArray<QueueStats>> => {
  const { store, pool } = deps;
  const counts = await orThrow(store.opsQueueCounts(pool, { bound: exactCountBound })());
  const byQueue = new Map<string, Map<TaskState, CountRow>>();
  for (const row of counts) {
    const states = byQueue.get(row.queue) ?? new Map<TaskState, CountRow>();
    states.set(row.state, row);
    byQueue.set(row.queue, states);
  }
  const pending = [...byQueue].flatMap(([queue, states]) => (states.has("pending") ? [queue] : []));
  const queues = await orThrow(
    store.opsQueuesList(pool, { queues: [...byQueue.keys()], pending, bound: exactCountBound })(),
  );
  return queues.map((queue) => {
    const states = byQueue.get(queue.queue);
    const all = countOf(states?.get("pending"));
    // Bounded scans: past the bound, "at least this many", marked approximate.
    const bounded = (count: number): Count => ({ count, approximate: count > exactCountBound });
    const notDue = queue.delayed + queue.retrying;
    return {
      queue: queue.queue,
      dlq: queue.dlq,
      pausedAt: queue.pausedAt,
      rateLimit:
        queue.rateLimit === null || queue.ratePeriodMs === null
          ? null
          : { limit: queue.rateLimit, periodMs: queue.ratePeriodMs },
      counts: Object.fromEntries(taskStates.map((state) => [state, countOf(states?.get(state))])) as Record<
        TaskState,
        Count
      >,
      pending: {
        due: {
          count: Math.max(0, all.count - notDue),
          approximate: all.approximate || notDue > exactCountBound,
        },
        delayed: bounded(queue.delayed),
        retrying: bounded(queue.retrying),
      },
      deadLettered: bounded(queue.deadLettered),
      oldestPendingAgeSeconds:
        queue.oldestPendingAgeSeconds === null ? null : Math.max(0, queue.oldestPendingAgeSeconds),
      nextDueAt: queue.nextDueAt,
    };
  });
};
