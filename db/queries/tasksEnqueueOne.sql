-- The single-task form of tasksEnqueue: plain parameters plan and run faster
-- than arrays of one. :trace the producer's W3C trace context, or null.
insert into {{schema}}.task (
  queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
  timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
  rate_key, run_at, group_key, start_by, job_id, step_index, trace_context)
values (:queue, :inputs, :maxAttempts, :retryInitialMs, :retryMaxMs, :retryCoefficient, :retryJitter, :timeoutMs, :heartbeatMs, :ttlMs, :priority, :concurrencyKey, :concurrencyLimit, :uniqueKey,
        :rateLimitKey, now() + :delayMs::float8 * interval '1 millisecond', :groupKey,
        now() + :startWithinMs::float8 * interval '1 millisecond', :jobId, :stepIndex, :trace::jsonb)
on conflict (queue_name, unique_key) where unique_key is not null and state in ('pending', 'in_progress')
do nothing
returning id::text
