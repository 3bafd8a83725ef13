import { messageOf } from "../errors.ts";
import type { MetricsDeps } from "../client/clientDeps.ts";
import { maxGroupsListed } from "../ops/groups.ts";
import { Ops } from "../ops/ops.ts";
import type { RateLimitInfo } from "../ops/types.ts";
import type { GaugeMetricKey } from "./metricDefinitions.ts";

/** @internal One gauge value with its labels. */
export interface GaugeValue {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** @internal The database's view at one moment, by gauge. */
export type QueueSnapshot = Readonly<Record<GaugeMetricKey, ReadonlyArray<GaugeValue>>>;

/**
 * @internal Reads the gauges through the ops API. Each read stands alone:
 * one that fails (logged) leaves only its gauges empty. Calls while a read
 * is in flight share it, so one scrape (its gauges collect concurrently)
 * costs one round of queries.
 */
export const queueSnapshots = (deps: MetricsDeps): (() => Promise<QueueSnapshot>) => {
  const read = async <A>(what: string, run: () => Promise<A>, empty: A): Promise<A> => {
    try {
      return await run();
    } catch (error) {
      deps.log.warn(`metrics: could not read ${what}; its gauges are left out of this scrape`, {
        error: messageOf(error),
      });
      return empty;
    }
  };
  const take = async (): Promise<QueueSnapshot> => {
    const ops = new Ops(deps);
    const [queues, workers, schedules] = await Promise.all([
      read("queue stats", () => ops.queues(), []),
      read("workers", () => ops.workers(), []),
      read("schedules", () => ops.schedules({ nextRuns: 1 }), []),
    ]);
    // Per queue, one after another (a scrape should not take the pool's
    // connections at once): the rate budgets of the queues that have a
    // limit, and the groups of each queue (one index probe when it has none).
    const rates: Array<{ readonly queue: string; readonly info: RateLimitInfo }> = [];
    const groups: GaugeValue[] = [];
    for (const { queue, rateLimit } of queues) {
      if (rateLimit !== null) {
        const info = await read(`the rate limit of ${queue}`, () => ops.rateLimit(queue), null);
        if (info !== null) rates.push({ queue, info });
      }
      const listed = await read(
        `the groups of ${queue}`,
        () => ops.groups(queue, { limit: maxGroupsListed }),
        [],
      );
      if (listed.length > 0) groups.push({ labels: { queue }, value: listed.length });
    }
    const limited = rates.flatMap(({ queue, info }) =>
      info.rateLimit === null ? [] : [{ queue, info, limit: info.rateLimit }],
    );
    const oldestHeartbeat = new Map<string, number>();
    for (const worker of workers)
      for (const { queue } of worker.queues)
        oldestHeartbeat.set(queue, Math.max(oldestHeartbeat.get(queue) ?? 0, worker.heartbeatAgeSeconds));
    return {
      tasks: queues.flatMap(({ queue, counts }) =>
        Object.entries(counts).map(([state, { count }]) => ({ labels: { queue, state }, value: count })),
      ),
      oldestPendingAge: queues.flatMap(({ queue, oldestPendingAgeSeconds }) =>
        oldestPendingAgeSeconds === null ? [] : [{ labels: { queue }, value: oldestPendingAgeSeconds }],
      ),
      heartbeatAge: [...oldestHeartbeat].map(([queue, value]) => ({ labels: { queue }, value })),
      nextRun: schedules.flatMap(({ queue, nextRuns }) =>
        nextRuns[0] === undefined ? [] : [{ labels: { queue }, value: nextRuns[0].getTime() / 1000 }],
      ),
      rateLimit: limited.map(({ queue, limit }) => ({ labels: { queue }, value: limit.limit })),
      ratePeriod: limited.map(({ queue, limit }) => ({ labels: { queue }, value: limit.periodMs / 1000 })),
      rateUsed: limited.map(({ queue, info }) => ({ labels: { queue }, value: info.used })),
      rateKeys: limited.map(({ queue, info }) => ({ labels: { queue }, value: info.activeKeys })),
      groups,
    };
  };
  let pending: Promise<QueueSnapshot> | undefined;
  // Shared while in flight only: the gauges of one scrape collect at once;
  // the next scrape reads afresh.
  return () => {
    if (pending === undefined) {
      const reading = take();
      pending = reading;
      void reading.finally(() => {
        if (pending === reading) pending = undefined;
      });
    }
    return pending;
  };
};
