// OpenTelemetry with the SDK's in-memory exporters against a real database:
// the producer's span context travels with the task, the worker's span
// (in another client) links to it, the handler's spans are its children,
// and the Prometheus metrics' twins are recorded as OTel instruments.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { SpanKind, SpanStatusCode, context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { MeterProvider, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { Steps, defineJob, defineStepJob, done, next, openTelemetry } from "../src/index.ts";
import { useDatabase } from "./support/harness.ts";

const Input = t.type({ fail: t.boolean });

/** A reader collected on demand. */
class TestReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Data points of one metric, by their attributes as JSON. */
const pointsOf = (metrics: ResourceMetrics, name: string): Map<string, unknown> => {
  const points = new Map<string, unknown>();
  for (const scope of metrics.scopeMetrics)
    for (const metric of scope.metrics)
      if (metric.descriptor.name === name)
        for (const point of metric.dataPoints) points.set(JSON.stringify(point.attributes), point.value);
  return points;
};

describe("OpenTelemetry", () => {
  const { db, connect } = useDatabase("telemetry");
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

  it("enqueue and attempt spans across two clients: stored trace context, link, child spans, error status", async () => {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const producer = await connect();
    const consumer = await connect();
    const plain = await connect();
    const telemetry = [
      await openTelemetry(producer, { tracerProvider, metrics: false }),
      await openTelemetry(consumer, { tracerProvider, metrics: false }),
    ];
    const definition = defineJob({ queue: "traced", input: Input, options: { retry: { maxAttempts: 1 } } });
    const request = tracerProvider.getTracer("app").startSpan("POST /signup");
    const [ok = "", failing = ""] = await context.with(trace.setSpan(context.active(), request), async () => [
      await producer.job(definition).enqueue({ fail: false }),
      await producer.job(definition).enqueue({ fail: true }),
    ]);
    request.end();

    // The trace context is stored only by a traced enqueue.
    const { rows } = await db().pool.query<{ id: string; trace_context: { traceparent: string } | null }>(
      "select id::text, trace_context from underway.task_all where id = any($1::bigint[]) order by id",
      [[ok, failing]],
    );
    const sends = exporter.getFinishedSpans().filter((span) => span.name === "send traced");
    assert.equal(sends.length, 2);
    for (const send of sends) {
      assert.equal(send.kind, SpanKind.PRODUCER);
      assert.equal(
        send.parentSpanContext?.spanId,
        request.spanContext().spanId,
        "a child of the active span",
      );
      assert.equal(send.attributes["messaging.system"], "underway");
      assert.equal(send.attributes["messaging.destination.name"], "traced");
      const id = send.attributes["messaging.message.id"];
      const stored = rows.find((row) => row.id === id)?.trace_context;
      assert.equal(stored?.traceparent, `00-${send.spanContext().traceId}-${send.spanContext().spanId}-01`);
    }

    const job = consumer.job(definition);
    const worker = job.start(async ({ fail }) => {
      tracerProvider.getTracer("app").startSpan("inside the handler").end();
      if (fail) throw new Error("boom");
      return null;
    });
    try {
      assert.equal(await job.result(ok), null);
      await assert.rejects(job.result(failing));
    } finally {
      await worker.stop();
    }
    const spans = exporter.getFinishedSpans();
    const processOf = (id: string) =>
      spans.find((span) => span.name === "process traced" && span.attributes["messaging.message.id"] === id);
    for (const id of [ok, failing]) {
      const send = sends.find((span) => span.attributes["messaging.message.id"] === id);
      const process = processOf(id);
      assert.ok(send !== undefined && process !== undefined);
      assert.equal(process.kind, SpanKind.CONSUMER);
      assert.equal(process.parentSpanContext, undefined, "a root span of its own trace");
      assert.deepEqual(
        process.links.map((link) => [link.context.traceId, link.context.spanId]),
        [[send.spanContext().traceId, send.spanContext().spanId]],
        "linked to the producer's span",
      );
      assert.equal(process.attributes["underway.task.attempt"], 1);
    }
    assert.equal(processOf(ok)?.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(processOf(failing)?.status, { code: SpanStatusCode.ERROR, message: "boom" });
    // The handler ran inside the attempt's span.
    const inside = spans.filter((span) => span.name === "inside the handler");
    assert.equal(inside.length, 2);
    assert.deepEqual(
      inside.map((span) => span.parentSpanContext?.spanId).sort(),
      [processOf(ok)?.spanContext().spanId, processOf(failing)?.spanContext().spanId].sort(),
    );
    // A task enqueued by a client without tracing stores no trace context; its attempt has no link.
    const untraced = await plain.job(definition).enqueue({ fail: false });
    const stored = await db().pool.query("select trace_context from underway.task_all where id = $1", [
      untraced,
    ]);
    assert.equal(stored.rows[0]?.trace_context, null);
    const runOnce = await consumer.job(definition).runOnce(async () => null);
    assert.equal(runOnce?.taskId, untraced);
    assert.deepEqual(processOf(untraced)?.links, []);
    for (const handle of telemetry) handle.stop();
  });

  it("every step of a multi-step job links to the span that enqueued the job", async () => {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const underway = await connect();
    const telemetry = await openTelemetry(underway, { tracerProvider, metrics: false });
    const definition = defineStepJob({ queue: "traced_steps", input: t.type({ n: t.number }) });
    const steps = Steps.of(definition)
      .step(async ({ n }) => next({ n: n + 1 }))
      .step(async ({ n }) => next({ n: n + 1 }))
      .step(async ({ n }) => done(n));
    const job = underway.job(definition);
    const worker = job.start(steps);
    try {
      assert.equal(await job.result(await job.enqueue({ n: 1 })), 3);
    } finally {
      await worker.stop();
    }
    const spans = exporter.getFinishedSpans();
    const send = spans.find((span) => span.name === "send traced_steps");
    const processes = spans.filter((span) => span.name === "process traced_steps");
    assert.ok(send !== undefined);
    assert.deepEqual(processes.map((span) => span.attributes["underway.job.step_index"]).sort(), [0, 1, 2]);
    for (const process of processes)
      assert.deepEqual(
        process.links.map((link) => link.context.spanId),
        [send.spanContext().spanId],
      );
    telemetry.stop();
  });

  it("the counters, histograms and gauges as OpenTelemetry metrics", async () => {
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const underway = await connect();
    const telemetry = await openTelemetry(underway, { meterProvider, tracing: false });
    const job = underway.job(
      defineJob({
        queue: "metered",
        dlq: "metered_dlq",
        input: Input,
        options: { retry: { maxAttempts: 1 } },
      }),
    );
    const ids = await job.enqueueMany([{ fail: false }, { fail: false }, { fail: true }]);
    const idle = underway.job(defineJob({ queue: "metered_idle", input: Input }));
    await idle.enqueue({ fail: false });
    const worker = job.start(async ({ fail }) => {
      if (fail) throw new Error("boom");
      return null;
    });
    try {
      await Promise.allSettled(ids.map((id) => job.result(id)));
    } finally {
      await worker.stop();
    }
    const { resourceMetrics } = await reader.collect();
    const queue = JSON.stringify({ queue: "metered" });
    assert.equal(pointsOf(resourceMetrics, "underway.tasks.enqueued").get(queue), 3);
    assert.equal(pointsOf(resourceMetrics, "underway.tasks.completed").get(queue), 2);
    assert.equal(pointsOf(resourceMetrics, "underway.tasks.failed").get(queue), 1);
    assert.equal(pointsOf(resourceMetrics, "underway.tasks.dead_lettered").get(queue), 1);
    const durations = pointsOf(resourceMetrics, "underway.task.duration");
    const succeeded = durations.get(JSON.stringify({ queue: "metered", outcome: "succeeded" })) as {
      count: number;
    };
    assert.equal(succeeded.count, 2);
    assert.equal((pointsOf(resourceMetrics, "underway.task.wait").get(queue) as { count: number }).count, 3);
    assert.ok(pointsOf(resourceMetrics, "underway.claim.duration").has(queue));
    // Gauges, read from the database at collection.
    assert.equal(
      pointsOf(resourceMetrics, "underway.tasks").get(
        JSON.stringify({ queue: "metered_idle", state: "pending" }),
      ),
      1,
    );
    assert.equal(
      pointsOf(resourceMetrics, "underway.tasks").get(
        JSON.stringify({ queue: "metered", state: "succeeded" }),
      ),
      2,
    );
    telemetry.stop();
    await meterProvider.shutdown();
  });
});
