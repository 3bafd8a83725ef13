import { messageOf } from "../errors.ts";
import type { Underway } from "../underway.ts";
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
 * one that fails (logged) leaves only its gauges empty. Reads within
 * `reuseMs` of the last share it, so one scrape (several gauges, or
 * Prometheus and OpenTelemetry together) costs one round of queries.
 */
export const queueSnapshots = (underway: Underway, reuseMs = 1_000): (() => Promise<QueueSnapshot>) => {
  let last: { readonly at: number; readonly snapshot: Promise<QueueSnapshot> } | undefined;
  const read = async <A>(what: string, run: () => Promise<A>, empty: A): Promise<A> => {
    try {
      return await run();
    } catch (error) {
      underway.log.warn(`metrics: could not read ${what}; its gauges are left out of this scrape`, {
        error: messageOf(error),
      });
      return empty;
    }
  };
  const take = async (): Promise<QueueSnapshot> => {
    const { ops } = underway;
    const [queues, workers, schedules] = await Promise.all([
      read("queue stats", () => ops.queues(), []),
      read("workers", () => ops.workers(), []),
      read("schedules", () => ops.schedules({ nextRuns: 1 }), []),
    ]);
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
    };
  };
  return () => {
    const now = Date.now();
    if (last === undefined || now - last.at > reuseMs) last = { at: now, snapshot: take() };
    return last.snapshot;
  };
};
