import { ConfigError, messageOf } from "../errors.ts";
import { checkOptionShape } from "../optionShape.ts";
import { depsOf } from "../client/clientDeps.ts";
import type { Underway } from "../underway.ts";
import {
  eventMetrics,
  gaugeMetrics,
  recordEvent,
  type EventMetricKey,
  type GaugeMetricKey,
  type MetricRecorder,
} from "./metricDefinitions.ts";
import { queueSnapshots } from "./queueSnapshot.ts";

/**
 * What underway needs of a prom-client `Registry` (prom-client's own type
 * is not named here, so underway's types compile without prom-client).
 */
export interface PrometheusRegistry {
  /** The exposition text of every metric registered. */
  metrics(): Promise<string>;
  /** The exposition format's content type. */
  readonly contentType: string;
  /** Unregisters one metric by name. */
  removeSingleMetric(name: string): void;
}

/** Options of {@link prometheusMetrics}. */
export interface PrometheusOptions<R extends PrometheusRegistry = PrometheusRegistry> {
  /**
   * The prom-client `Registry` to register in, e.g. prom-client's global
   * `register` beside `collectDefaultMetrics()`. Default: a registry of its own.
   */
  readonly registry?: R;
  /** Prepended to every name. Default `underway_`. */
  readonly prefix?: string;
  /**
   * Read the database-wide gauges (`tasks`, oldest pending age, worker
   * heartbeat age, next schedule run) through `underway.ops` at each
   * scrape. Default true; turn off in all but one process to save the queries.
   */
  readonly queueStats?: boolean;
}

/** A response object of node:http (or Express, Fastify's `reply.raw`): what the handler writes to. */
export interface MetricsResponse {
  /** The status code to send. */
  statusCode: number;
  /** Sets a response header. */
  setHeader(name: string, value: string): unknown;
  /** Sends the body and ends the response. */
  end(body: string): unknown;
}

/** Underway's Prometheus metrics: the registry, and `/metrics` handlers. */
export interface PrometheusMetrics<R extends PrometheusRegistry = PrometheusRegistry> {
  /** The registry holding underway's metrics. */
  readonly registry: R;
  /** The exposition text, as a scrape gets it. */
  text(): Promise<string>;
  /**
   * A node:http request handler serving the exposition text (500 with the
   * error's message if collecting fails).
   *
   * @example
   * http.createServer((req, res) => (req.url === "/metrics" ? metrics.handler(req, res) : res.end())).listen(9464);
   */
  handler(request: unknown, response: MetricsResponse): void;
  /** The same as a Fetch API handler (Hono, Bun, Deno, Next.js route handlers). */
  fetchHandler(request?: unknown): Promise<Response>;
  /** Stops counting this client's events and unregisters the metrics. */
  stop(): void;
}

/** The dynamically loaded prom-client module. */
type PromClient = typeof import("prom-client");

const loadPromClient = async (): Promise<PromClient> => {
  try {
    return await import("prom-client");
  } catch (error) {
    throw new ConfigError(
      `prometheusMetrics needs the optional peer dependency prom-client (npm install prom-client): ${messageOf(error)}`,
      { cause: error },
    );
  }
};

const checkPrefix = (prefix: string): string => {
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(prefix))
    throw new ConfigError(
      `prefix must be a Prometheus metric name prefix, got ${JSON.stringify(prefix).slice(0, 80)}`,
    );
  return prefix;
};

/**
 * Prometheus metrics of this client through prom-client (an optional peer
 * dependency, loaded here): counters and histograms of what this process's
 * producers and workers do, from its lifecycle events, and gauges of the
 * database's queues read through `underway.ops` at scrape time. Names
 * follow Prometheus conventions (base units, `_total` on counters); labels
 * are queue, state and outcome, never ids. See docs/operations.md#metrics.
 * Rejects with a `ConfigError` when prom-client is not installed.
 *
 * @example
 * const metrics = await prometheusMetrics(underway);
 * http.createServer((req, res) => metrics.handler(req, res)).listen(9464);
 */
export const prometheusMetrics = async <R extends PrometheusRegistry = PrometheusRegistry>(
  underway: Underway,
  options: PrometheusOptions<R> = {},
): Promise<PrometheusMetrics<R>> => {
  // registry: any prom-client Registry (ours or the app's copy of prom-client).
  checkOptionShape("prometheusMetrics options", options, {
    registry: "object",
    prefix: "string",
    queueStats: "boolean",
  });
  const prefix = checkPrefix(options.prefix ?? "underway_");
  const deps = depsOf(underway);
  const prom = await loadPromClient();
  const registry = (options.registry ?? new prom.Registry()) as R;
  const registers = [registry as unknown as InstanceType<PromClient["Registry"]>];
  const names: string[] = [];
  const counters = new Map<EventMetricKey, InstanceType<PromClient["Counter"]>>();
  const histograms = new Map<EventMetricKey, InstanceType<PromClient["Histogram"]>>();
  for (const [key, metric] of Object.entries(eventMetrics) as Array<
    [EventMetricKey, (typeof eventMetrics)[EventMetricKey]]
  >) {
    const config = {
      name: `${prefix}${metric.prometheus}`,
      help: metric.help,
      labelNames: [...metric.labels],
      registers,
    };
    names.push(config.name);
    if (metric.kind === "counter") counters.set(key, new prom.Counter(config));
    else histograms.set(key, new prom.Histogram({ ...config, buckets: [...metric.buckets] }));
  }
  const recorder: MetricRecorder = {
    count: (key, queue, by) => counters.get(key)?.inc({ queue }, by),
    observe: (key, queue, seconds, outcome) =>
      histograms.get(key)?.observe(outcome === undefined ? { queue } : { queue, outcome }, seconds),
  };
  if (options.queueStats !== false) {
    const snapshot = queueSnapshots(deps);
    for (const [key, metric] of Object.entries(gaugeMetrics) as Array<
      [GaugeMetricKey, (typeof gaugeMetrics)[GaugeMetricKey]]
    >) {
      const name = `${prefix}${metric.prometheus}`;
      names.push(name);
      new prom.Gauge({
        name,
        help: metric.help,
        labelNames: [...metric.labels],
        registers,
        // At scrape time; reset first, so a queue that went away goes too.
        async collect() {
          const values = (await snapshot())[key];
          this.reset();
          for (const { labels, value } of values) this.set(labels, value);
        },
      });
    }
  }
  const removeSink = deps.lifecycle.addSink((event) => recordEvent(recorder, event));
  const text = () => registry.metrics();
  return {
    registry,
    text,
    handler: (_request, response) => {
      text().then(
        (body) => {
          response.statusCode = 200;
          response.setHeader("Content-Type", registry.contentType);
          response.end(body);
        },
        (error: unknown) => {
          response.statusCode = 500;
          response.setHeader("Content-Type", "text/plain; charset=utf-8");
          response.end(`collecting metrics failed: ${messageOf(error)}\n`);
        },
      );
    },
    fetchHandler: async () => {
      try {
        return new Response(await text(), { headers: { "Content-Type": registry.contentType } });
      } catch (error) {
        return new Response(`collecting metrics failed: ${messageOf(error)}\n`, { status: 500 });
      }
    },
    stop: () => {
      removeSink();
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
};
