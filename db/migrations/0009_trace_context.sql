-- The producer's W3C trace context (`{"traceparent": …, "tracestate": …}`),
-- written at enqueue only when OpenTelemetry tracing is on, so a worker's
-- span can link to the span that enqueued the task. Nullable without
-- default: adding it rewrites no rows, and untraced tasks store nothing.
alter table {{schema}}.task add column trace_context jsonb;
