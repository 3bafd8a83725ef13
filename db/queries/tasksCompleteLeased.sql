-- A transactional handler's success, written inside the handler's own
-- transaction: :id, :attempt, :output; then the next step of a job, as
-- arrays of zero or one element (:inputs … :delayMs, :stepIndex).
-- Fenced by the attempt AND by the lease: a worker whose lease expired (even
-- if no one has reaped it yet, unless this transaction holds the row) matches no row, and its caller rolls the whole
-- transaction back, handler writes included. The clock is
-- statement_timestamp(), not now(): now() is when the transaction began,
-- before the handler ran. A task whose cancel was requested is not completed
-- (its caller rolls back, so the handler's writes go too), and the job's
-- lock is held in share mode, as for any step completion, so a job cancel
-- sees the next step this inserts or stops it.
with completed as (
  -- Leaves task for task_finished, as tasksComplete.
  delete from {{schema}}.task t
   where t.id = :id::bigint and t.attempt = :attempt::integer and t.state = 'in_progress'
     and case when t.lease_expires_at > statement_timestamp() then true
              -- Or the row is this transaction's already: the handler updated
              -- or locked its own task row (xmin or xmax is an id this
              -- backend holds). Lease renewals skip a locked row, so its lease
              -- runs out under the handler, but while the lock is held nothing
              -- else can reap or claim the task, and it was this attempt's
              -- when the handler took it (the attempt and state checks above
              -- read the handler's own version).
              else exists (select 1 from pg_locks l
                            where l.locktype = 'transactionid' and l.pid = pg_backend_pid()
                              and l.transactionid in (t.xmin, t.xmax)) end
     and t.cancel_requested_at is null
     and {{schema}}.task_job_lock_shared(t.job_id)
  returning t
), finished as (
  insert into {{schema}}.task_finished
  select f.* from completed c cross join lateral {{schema}}.task_succeeded(c.t, :output::jsonb, statement_timestamp()) f
), continued as (
  insert into {{schema}}.task (
    queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
    timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
    rate_key, run_at, group_key, start_by, job_id, step_index, trace_context)
  select (c.t).queue_name, n.input, n.max_attempts, n.retry_initial_ms, n.retry_max_ms, n.retry_coefficient,
         n.retry_jitter, n.timeout_ms, n.heartbeat_ms, n.ttl_ms, n.priority, n.concurrency_key,
         n.concurrency_limit, n.unique_key, n.rate_key, statement_timestamp() + n.delay_ms * interval '1 millisecond',
         coalesce(n.group_key, (c.t).group_key),
         statement_timestamp() + n.start_within_ms * interval '1 millisecond', (c.t).job_id, n.step_index, (c.t).trace_context -- each step links to the span that enqueued the job
    from unnest(:inputs::jsonb[], :maxAttempts::integer[], :retryInitialMs::integer[], :retryMaxMs::integer[], :retryCoefficient::float8[],
                :retryJitter::float8[], :timeoutMs::integer[], :heartbeatMs::integer[], :ttlMs::bigint[], :priority::integer[], :concurrencyKey::text[],
                :concurrencyLimit::integer[], :uniqueKey::text[], :rateLimitKey::text[], :delayMs::float8[], :groupKey::text[], :startWithinMs::float8[], :stepIndex::integer[])
         as n(input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
              timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
              rate_key, delay_ms, group_key, start_within_ms, step_index)
    cross join completed c
  returning id
)
select (t).id::text as id from completed
