-- A batch of successes of job steps that have a next step: :ids,
-- :attempts, :outputs (the success write of tasksComplete, the same
-- fragments); then one next-step row per completed task, keyed by
-- :sourceIds. One statement, so completing a step and enqueuing the
-- next happen together or not at all: a fenced-off completion (reclaimed,
-- cancelled) inserts no next step, and a crash between steps cannot run a
-- step twice or skip one. Each job's lock is held in share mode from before
-- its step's row is written to commit (task_job_lock_shared, in the WHERE so
-- it runs before the row is locked): a job's cancel waits for this statement
-- or this statement waits for the cancel, and then finds its step
-- cancel-requested, ends it cancelled (task_succeeded) and
-- continues nothing. Each success leaves task and goes into task_finished.
-- Committed without waiting for the WAL flush (db/fragments/commitAsync.sql): a
-- completion (and its next step) lost in a server crash leaves the step in progress, so it runs
-- again once its lease expires, which at-least-once delivery allows. See
-- docs/reliability.md.
with {{> stepSuccesses}}, continued as (
  insert into {{schema}}.task (
    queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
    timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
    rate_key, run_at, group_key, start_by, job_id, step_index, trace_context)
  select c.queue_name, n.input, n.max_attempts, n.retry_initial_ms, n.retry_max_ms, n.retry_coefficient,
         n.retry_jitter, n.timeout_ms, n.heartbeat_ms, n.ttl_ms, n.priority, n.concurrency_key,
         n.concurrency_limit, n.unique_key, n.rate_key, now() + n.delay_ms * interval '1 millisecond',
         -- A step without a group of its own stays in its job's (docs/flow-control.md).
         coalesce(n.group_key, c.group_key), now() + n.start_within_ms * interval '1 millisecond', c.job_id,
         n.step_index,
         c.trace_context -- each step links to the span that enqueued the job
    from unnest(:sourceIds::bigint[], :inputs::jsonb[], :maxAttempts::integer[], :retryInitialMs::integer[],
                :retryMaxMs::integer[], :retryCoefficient::float8[], :retryJitter::float8[], :timeoutMs::integer[],
                :heartbeatMs::integer[], :ttlMs::bigint[], :priority::integer[], :concurrencyKey::text[],
                :concurrencyLimit::integer[], :uniqueKey::text[], :rateLimitKey::text[], :delayMs::float8[], :groupKey::text[], :startWithinMs::float8[], :stepIndex::integer[])
         as n(source_id, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
              timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
              rate_key, delay_ms, group_key, start_within_ms, step_index)
    join completed c on c.id = n.source_id
  returning id
)
select id::text from completed
