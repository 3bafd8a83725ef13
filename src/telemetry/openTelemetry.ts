import { ConfigError, messageOf } from "../errors.ts";
import { checkOptionShape } from "../optionShape.ts";
import { depsOf } from "../client/clientDeps.ts";
import type { Underway } from "../underway.ts";
import { attemptTracing, type OtelApi } from "./attemptTracing.ts";
import { otelMetrics } from "./otelMetrics.ts";

/** An OpenTelemetry `TracerProvider`, typed loosely so underway's types compile without OpenTelemetry. */
export interface TracerProviderLike {
  /** Returns a tracer; underway asks for one named "underway". */
  getTracer(name: string, version?: string): unknown;
}

/** An OpenTelemetry `MeterProvider`, typed loosely so underway's types compile without OpenTelemetry. */
export interface MeterProviderLike {
  /** Returns a meter; underway asks for one named "underway". */
  getMeter(name: string, version?: string): unknown;
}

/** Options of {@link openTelemetry}. */
export interface TelemetryOptions {
  /** The tracer provider. Default: the global one (`trace.getTracerProvider()`). */
  readonly tracerProvider?: TracerProviderLike;
  /** The meter provider. Default: the global one (`metrics.getMeterProvider()`). */
  readonly meterProvider?: MeterProviderLike;
  /** Spans for enqueues and attempts, and trace context stored with tasks. Default true. */
  readonly tracing?: boolean;
  /** Counters and histograms (and, with `queueStats`, gauges). Default true. */
  readonly metrics?: boolean;
  /** Gauges read from the database through `underway.ops` at each collection. Default true. */
  readonly queueStats?: boolean;
}

/** What {@link openTelemetry} turned on; `stop()` turns it off again. */
export interface Telemetry {
  /** Stops tracing and recording metrics for this client (instruments stay with their meter). */
  stop(): void;
}

const loadApi = async (): Promise<OtelApi> => {
  try {
    return await import("@opentelemetry/api");
  } catch (error) {
    throw new ConfigError(
      `openTelemetry needs the optional peer dependency @opentelemetry/api (npm install @opentelemetry/api): ${messageOf(error)}`,
      { cause: error },
    );
  }
};

/**
 * Turns on OpenTelemetry for this client, through `@opentelemetry/api` (an
 * optional peer dependency, loaded here). Explicit rather than automatic
 * when the API is installed: it is often installed by something else, and
 * tracing changes what enqueue writes (the trace context column).
 *
 * - Tracing: a PRODUCER span `send <queue>` around each enqueue (a child of
 *   the active span), whose W3C trace context (`traceparent`, `tracestate`)
 *   is stored with the tasks; a CONSUMER span `process <queue>` per attempt,
 *   a new trace that links to the producer's span, with the handler running
 *   inside it (status error on failure, retry or lost lease). Attributes
 *   follow the messaging semantic conventions (`messaging.system`
 *   "underway", `messaging.destination.name` the queue,
 *   `messaging.message.id` the task id).
 * - Metrics: the Prometheus metrics' counters and histograms, and gauges of
 *   the database's queues, as OpenTelemetry instruments.
 *
 * Rejects with a `ConfigError` when `@opentelemetry/api` is not installed.
 * See docs/operations.md#tracing.
 *
 * @example
 * const telemetry = await openTelemetry(underway); // the globally registered providers
 * // or: await openTelemetry(underway, { tracerProvider, meterProvider });
 */
export const openTelemetry = async (
  underway: Underway,
  options: TelemetryOptions = {},
): Promise<Telemetry> => {
  checkOptionShape("openTelemetry options", options, {
    tracerProvider: "object",
    meterProvider: "object",
    tracing: "boolean",
    metrics: "boolean",
    queueStats: "boolean",
  });
  const deps = depsOf(underway);
  const api = await loadApi();
  const stops: Array<() => void> = [];
  if (options.tracing !== false) {
    const provider = (options.tracerProvider ?? api.trace.getTracerProvider()) as ReturnType<
      OtelApi["trace"]["getTracerProvider"]
    >;
    stops.push(deps.lifecycle.setTracing(attemptTracing(api, provider.getTracer("underway"))));
  }
  if (options.metrics !== false) {
    const provider = (options.meterProvider ?? api.metrics.getMeterProvider()) as ReturnType<
      OtelApi["metrics"]["getMeterProvider"]
    >;
    stops.push(otelMetrics(deps, provider.getMeter("underway"), options.queueStats !== false));
  }
  return {
    stop: () => {
      for (const stop of stops) stop();
    },
  };
};
