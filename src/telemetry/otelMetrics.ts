import type { Counter, Histogram, Meter, ObservableGauge } from "@opentelemetry/api";
import type { MetricsDeps } from "../client/clientDeps.ts";
import {
  eventMetrics,
  gaugeMetrics,
  recordEvent,
  type EventMetricKey,
  type GaugeMetricKey,
  type MetricRecorder,
} from "../metrics/metricDefinitions.ts";
import { queueSnapshots } from "../metrics/queueSnapshot.ts";

/**
 * @internal The Prometheus metrics' twins as OpenTelemetry instruments
 * (dotted names whose Prometheus export is the same name: `underway.task.duration`
 * in seconds becomes `underway_task_duration_seconds`). Returns their removal.
 */
export const otelMetrics = (deps: MetricsDeps, meter: Meter, queueStats: boolean): (() => void) => {
  const counters = new Map<EventMetricKey, Counter>();
  const histograms = new Map<EventMetricKey, Histogram>();
  for (const [key, metric] of Object.entries(eventMetrics) as Array<
    [EventMetricKey, (typeof eventMetrics)[EventMetricKey]]
  >) {
    if (metric.kind === "counter")
      counters.set(key, meter.createCounter(metric.otel, { description: metric.help, unit: "{task}" }));
    else
      histograms.set(
        key,
        meter.createHistogram(metric.otel, {
          description: metric.help,
          unit: "s",
          advice: { explicitBucketBoundaries: [...metric.buckets] },
        }),
      );
  }
  const recorder: MetricRecorder = {
    count: (key, queue, by) => counters.get(key)?.add(by, { queue }),
    observe: (key, queue, seconds, outcome) =>
      histograms.get(key)?.record(seconds, outcome === undefined ? { queue } : { queue, outcome }),
  };
  const removeSink = deps.lifecycle.addSink((event) => recordEvent(recorder, event));
  if (!queueStats) return removeSink;
  const gauges = new Map<GaugeMetricKey, ObservableGauge>(
    (Object.entries(gaugeMetrics) as Array<[GaugeMetricKey, (typeof gaugeMetrics)[GaugeMetricKey]]>).map(
      ([key, metric]) => [
        key,
        meter.createObservableGauge(metric.otel, { description: metric.help, unit: metric.unit }),
      ],
    ),
  );
  const snapshot = queueSnapshots(deps);
  // One callback for all gauges: one round of queries per collection.
  const observe = async (result: {
    observe(gauge: ObservableGauge, value: number, attributes?: Record<string, string>): void;
  }) => {
    const values = await snapshot();
    for (const [key, gauge] of gauges)
      for (const { labels, value } of values[key]) result.observe(gauge, value, labels);
  };
  meter.addBatchObservableCallback(observe, [...gauges.values()]);
  return () => {
    removeSink();
    meter.removeBatchObservableCallback(observe, [...gauges.values()]);
  };
};
