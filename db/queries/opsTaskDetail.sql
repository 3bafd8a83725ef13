-- :id: one task with everything stored about it but its history.
select t.id::text, t.queue_name as queue, t.state, t.attempt, t.max_attempts as "maxAttempts",
       t.priority, t.concurrency_key as "concurrencyKey", t.job_id as "jobId",
       t.step_index as "stepIndex", left(t.error, 1000) as error, t.run_at as "runAt",
       t.created_at as "createdAt", t.started_at as "startedAt", t.finished_at as "finishedAt",
       t.input, t.output, t.retry_initial_ms as "retryInitialMs", t.retry_max_ms as "retryMaxMs",
       t.retry_coefficient as "retryCoefficient", t.retry_jitter as "retryJitter",
       t.timeout_ms as "timeoutMs", t.heartbeat_ms as "heartbeatMs", t.ttl_ms::float8 as "ttlMs",
       t.concurrency_limit as "concurrencyLimit", t.unique_key as "uniqueKey",
       t.rate_key as "rateLimitKey",
       t.worker_id as "workerId", t.lease_expires_at as "leaseExpiresAt", t.dlq_from as "dlqFrom",
       t.cancel_requested_at as "cancelRequestedAt", t.group_key as "group",
       t.batch_id::text as "batchId"
  from {{schema}}.task_all t
 where t.id = :id
