-- $1 queue, $2 how many, $3 worker id, $4 how many keyed tasks start now.
-- Candidates in priority order, locked with SKIP LOCKED so concurrent claims
-- never wait on each other. Per concurrency key, at most its limit of the
-- batch are tried (the task_key_admit trigger makes the exact check under the
-- key's lock), and keys already at their limit (counted in this statement's
-- snapshot, a hint) are left out so they cannot crowd out others. A paused
-- queue yields nothing (one look-up of its row per claim). Keyed tasks past
-- the first $4 of the batch (those that cannot start at once: prefetch) are
-- claimed unstarted, started_at null: they take their key's slot only when
-- the worker starts them (tasksStart), so they hold no key meanwhile.
-- Committed without waiting for the WAL flush (synchronous_commit off for
-- this transaction only, set in the statement so it costs no round trip): a
-- claim lost in a server crash leaves the task pending, to be claimed again,
-- which at-least-once delivery allows. See docs/reliability.md.
with locked as (
  select id, concurrency_key, concurrency_limit, priority, run_at
    from {{schema}}.task t
   where (select set_config('synchronous_commit', 'off', true)) = 'off'
     and queue_name = $1 and state = 'pending' and run_at <= now()
     and not exists (select 1 from {{schema}}.queue q where q.name = $1 and q.paused_at is not null)
     and (concurrency_key is null or (
           select count(*) from (
             select 1 from {{schema}}.task r
              where r.queue_name = t.queue_name and r.concurrency_key = t.concurrency_key
                and r.state = 'in_progress' and r.started_at is not null
              limit t.concurrency_limit) running) < t.concurrency_limit)
   order by priority desc, run_at, id
   limit $2
   for update skip locked
), ranked as (
  select id, concurrency_key, concurrency_limit,
         row_number() over (partition by concurrency_key order by priority desc, run_at, id) as rank,
         row_number() over (order by priority desc, run_at, id) as batch_rank
    from locked
)
update {{schema}}.task t
   set state = 'in_progress',
       attempt = t.attempt + 1,
       worker_id = $3,
       started_at = case when r.concurrency_key is null or r.batch_rank <= $4 then now() end,
       lease_expires_at = now() + t.heartbeat_ms * interval '1 millisecond'
  from ranked r
 where t.id = r.id and (r.concurrency_key is null or r.rank <= r.concurrency_limit)
   -- Keeps a generic plan (prepared statement, unknown limit) on the primary
   -- key instead of hashing the whole table.
   and t.id = any(array(select id from locked))
returning t.id::text, t.input, t.attempt, t.max_attempts, t.retry_initial_ms, t.retry_max_ms,
          t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.concurrency_key, t.concurrency_limit,
          t.job_id, t.step_index, t.priority, t.dlq_from, t.attempt_budget, t.started_at is not null as admitted,
          -- For lifecycle events and tracing: the wait since due (database clock), the producer's trace.
          (extract(epoch from now() - t.run_at) * 1000)::float8 as wait_ms, t.trace_context
