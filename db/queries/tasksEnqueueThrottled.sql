-- One task under a throttle (uniqueForMs, docs/flow-control.md): :uniqueKey
-- stays claimed for :uniqueForMs ms from the enqueue that created its task,
-- even after the task ended. Gives the task and what happened: 'created';
-- 'existing' (a live task holds the key, as for any unique key); or
-- 'throttled' (the key's window is open: the task that opened it, which may
-- have ended). No row: a concurrent enqueue of the key committed between
-- this statement's snapshot and its writes; the caller runs it again
-- (a fresh snapshot sees that enqueue).
-- The window's row is claimed with ON CONFLICT DO UPDATE … WHERE the window
-- is over: concurrent enqueues of a key wait on that row's lock, and the
-- condition is checked again on the version the winner committed, so one
-- enqueue per window creates a task. Its id is drawn first (nextval) so
-- that the window names it.
with v as (
  {{> enqueueParams}}
), live as (
  select t.id from {{schema}}.task t, v where t.queue_name = v.queue and t.unique_key = v.unique_key
), claimed as (
  insert into {{schema}}.unique_window as w (queue_name, unique_key, task_id, until)
  select v.queue, v.unique_key, nextval(pg_get_serial_sequence('{{schema}}.task', 'id')),
         now() + :uniqueForMs::float8 * interval '1 millisecond'
    from v
   where not exists (select 1 from live)
  on conflict (queue_name, unique_key) do update set task_id = excluded.task_id, until = excluded.until
   where w.until <= now()
  returning w.task_id
), inserted as (
  insert into {{schema}}.task (
    id, queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
    timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
    rate_key, run_at, group_key, start_by, job_id, step_index, trace_context)
  overriding system value
  select c.task_id, v.queue, v.input, v.max_attempts, v.retry_initial_ms, v.retry_max_ms, v.retry_coefficient,
         v.retry_jitter, v.timeout_ms, v.heartbeat_ms, v.ttl_ms, v.priority, v.concurrency_key, v.concurrency_limit,
         v.unique_key, v.rate_key, now() + v.delay_ms * interval '1 millisecond', v.group_key,
         now() + v.start_within_ms * interval '1 millisecond', v.job_id, v.step_index, v.trace_context
    from claimed c, v
  -- A plain enqueue of the key (without uniqueForMs) may have won meanwhile.
  on conflict (queue_name, unique_key) where unique_key is not null and state in ('pending', 'in_progress')
  do nothing
  returning id
)
select i.id::text, 'created' as status from inserted i
union all
select l.id::text, 'existing' from live l
union all
select w.task_id::text, 'throttled' from {{schema}}.unique_window w, v
 where w.queue_name = v.queue and w.unique_key = v.unique_key and w.until > now()
   and not exists (select 1 from live) and not exists (select 1 from claimed)
