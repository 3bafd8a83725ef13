-- The members of batch :batchId: tasksEnqueue.sql with their batch_id. One row per array
-- element and one array parameter per column, as there.
-- :trace (one for all rows) the producer's W3C trace context, or null.
insert into {{schema}}.task (
  queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
  timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
  rate_key, run_at, group_key, start_by, job_id, step_index, trace_context, batch_id)
select :queue, v.input, v.max_attempts, v.retry_initial_ms, v.retry_max_ms, v.retry_coefficient, v.retry_jitter,
       v.timeout_ms, v.heartbeat_ms, v.ttl_ms, v.priority, v.concurrency_key, v.concurrency_limit, v.unique_key,
       v.rate_key, now() + v.delay_ms * interval '1 millisecond', v.group_key,
       now() + v.start_within_ms * interval '1 millisecond', v.job_id, v.step_index, :trace::jsonb, :batchId::bigint
  from unnest(:inputs::jsonb[], :maxAttempts::integer[], :retryInitialMs::integer[], :retryMaxMs::integer[], :retryCoefficient::float8[], :retryJitter::float8[],
              :timeoutMs::integer[], :heartbeatMs::integer[], :ttlMs::bigint[], :priority::integer[], :concurrencyKey::text[], :concurrencyLimit::integer[],
              :uniqueKey::text[], :rateLimitKey::text[], :delayMs::float8[], :groupKey::text[], :startWithinMs::float8[], :jobId::uuid[], :stepIndex::integer[])
       with ordinality as v(input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
              timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
              rate_key, delay_ms, group_key, start_within_ms, job_id, step_index, ord)
 order by v.ord
returning id::text
