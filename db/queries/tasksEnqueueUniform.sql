-- Many tasks sharing every option, the common batch: one array parameter
-- (the inputs) and scalars for the rest, so a 10,000-row batch sends and
-- parses 10,000 values instead of 160,000. :trace the producer's W3C trace
-- context, or null.
insert into {{schema}}.task (
  queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
  timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
  rate_key, run_at, group_key, start_by, job_id, step_index, trace_context)
select :queue, v.input, :maxAttempts, :retryInitialMs, :retryMaxMs, :retryCoefficient, :retryJitter, :timeoutMs, :heartbeatMs, :ttlMs, :priority, :concurrencyKey, :concurrencyLimit, :uniqueKey,
       :rateLimitKey, now() + :delayMs::float8 * interval '1 millisecond', :groupKey,
       now() + :startWithinMs::float8 * interval '1 millisecond', null, null, :trace::jsonb
  from unnest(:inputs::jsonb[]) with ordinality as v(input, ord)
 order by v.ord
on conflict (queue_name, unique_key) where unique_key is not null and state in ('pending', 'in_progress')
do nothing
returning id::text, unique_key
