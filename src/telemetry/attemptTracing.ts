import type { Context, Span, SpanContext, Tracer } from "@opentelemetry/api";
import type { LifecycleTracing } from "../events/taskEvents.ts";
import type { TaskEvent } from "../events/taskEvent.ts";
import type { RunningTask } from "../worker/execute.ts";
import { fromCarrier, toCarrier } from "./traceCarrier.ts";

/** @internal The dynamically loaded `@opentelemetry/api` module. */
export type OtelApi = typeof import("@opentelemetry/api");

// OpenTelemetry messaging semantic conventions (span names "<operation> <destination>").
const system = { "messaging.system": "underway" } as const;

/** Status and attributes of an attempt's span from how it ended. */
const closeAttempt = (api: OtelApi, span: Span, event: TaskEvent): void => {
  span.setAttribute("underway.task.outcome", event._tag);
  switch (event._tag) {
    case "retrying":
    case "failed":
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: event.error });
      return;
    case "leaseLost":
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: "lease lost: the task was taken over" });
      return;
    default:
      // Success and cancel leave the status unset, as the conventions advise.
      return;
  }
};

/**
 * @internal Tracing of a client's enqueues and attempts: a PRODUCER span
 * `send <queue>` around each enqueue, whose context is stored with the
 * tasks, and a CONSUMER span `process <queue>` for each attempt, linked to
 * it. The attempt's span is a root (not the producer's child): a task may
 * run hours after it was enqueued, and again on each retry, which would
 * stretch the producer's trace over all of that; the link keeps them
 * navigable both ways. The handler runs with the attempt's span active, so
 * its own spans are children of it.
 */
export const attemptTracing = (api: OtelApi, tracer: Tracer): LifecycleTracing => {
  const spans = new WeakMap<RunningTask, Span>();
  return {
    async produce(queue, insert, idsOf) {
      const parent: Context = api.context.active();
      const span = tracer.startSpan(
        `send ${queue}`,
        {
          kind: api.SpanKind.PRODUCER,
          attributes: {
            ...system,
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
            "messaging.destination.name": queue,
          },
        },
        parent,
      );
      const context = span.spanContext();
      const carrier = api.isSpanContextValid(context)
        ? toCarrier({ ...context, traceState: context.traceState?.serialize() })
        : null;
      try {
        const result = await api.context.with(api.trace.setSpan(parent, span), () => insert(carrier));
        const ids = idsOf(result);
        if (ids.length === 1 && ids[0] !== undefined) span.setAttribute("messaging.message.id", ids[0]);
        else span.setAttribute("messaging.batch.message_count", ids.length);
        return result;
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({
          code: api.SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : String(error),
        });
        throw error;
      } finally {
        span.end();
      }
    },
    start(queue, task) {
      const { row } = task;
      const producer = fromCarrier(row.traceContext);
      const link: SpanContext | undefined =
        producer === undefined
          ? undefined
          : {
              traceId: producer.traceId,
              spanId: producer.spanId,
              traceFlags: producer.traceFlags,
              isRemote: true,
              ...(producer.traceState === undefined
                ? {}
                : { traceState: api.createTraceState(producer.traceState) }),
            };
      const span = tracer.startSpan(
        `process ${queue}`,
        {
          kind: api.SpanKind.CONSUMER,
          root: true,
          attributes: {
            ...system,
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": queue,
            "messaging.message.id": row.id,
            "underway.task.attempt": row.attempt,
            "underway.task.max_attempts": row.maxAttempts,
            ...(row.jobId === null ? {} : { "underway.job.id": row.jobId }),
            ...(row.stepIndex === null ? {} : { "underway.job.step_index": row.stepIndex }),
          },
          ...(link === undefined ? {} : { links: [{ context: link }] }),
        },
        api.ROOT_CONTEXT,
      );
      spans.set(task, span);
    },
    within(task, run) {
      const span = spans.get(task);
      return span === undefined ? run() : api.context.with(api.trace.setSpan(api.ROOT_CONTEXT, span), run);
    },
    end(task, event) {
      const span = spans.get(task);
      if (span === undefined) return;
      spans.delete(task);
      closeAttempt(api, span, event);
      span.end();
    },
  };
};
