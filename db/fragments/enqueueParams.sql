-- One task's parameters as a row (`v`), each named once, in the order the
-- other inserts number them (src/db/enqueueColumns.ts): for statements that
-- read them in several places.
select :queue::text as queue, :inputs::jsonb as input, :maxAttempts::integer as max_attempts,
       :retryInitialMs::integer as retry_initial_ms, :retryMaxMs::integer as retry_max_ms,
       :retryCoefficient::float8 as retry_coefficient, :retryJitter::float8 as retry_jitter,
       :timeoutMs::integer as timeout_ms, :heartbeatMs::integer as heartbeat_ms, :ttlMs::bigint as ttl_ms,
       :priority::integer as priority, :concurrencyKey::text as concurrency_key,
       :concurrencyLimit::integer as concurrency_limit, :uniqueKey::text as unique_key,
       :rateLimitKey::text as rate_key, :delayMs::float8 as delay_ms, :groupKey::text as group_key,
       :startWithinMs::float8 as start_within_ms,
       :jobId::uuid as job_id, :stepIndex::integer as step_index, :trace::jsonb as trace_context
