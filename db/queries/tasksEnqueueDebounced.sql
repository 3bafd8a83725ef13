-- One task under a debounce (debounceMs, docs/flow-control.md), run after
-- tasksDebounceLock in the same transaction, so each enqueue of a key sees
-- the pending task the previous one committed. The key's pending task, if
-- any, takes :inputs and starts :debounceMs ms from now (plus :delayMs):
-- 'debounced'. Else (none, or it started: a claim that locked it first
-- moved it to in_progress, and this update, re-checked on the row the claim
-- committed, finds it no longer pending) a new task: 'created'. The key is
-- stored in debounce_key, not unique_key: the unique index on live tasks
-- would refuse the new pending task while the previous one runs.
with v as (
  {{> enqueueParams}}
), pushed as (
  update {{schema}}.task t
     set input = v.input, run_at = now() + (v.delay_ms + :debounceMs::float8) * interval '1 millisecond',
         -- The latest enqueue's deadline, as its input: counted from it.
         start_by = now() + v.start_within_ms * interval '1 millisecond'
    from v
   where t.id = (select k.id from {{schema}}.task k
                  where k.queue_name = v.queue and k.debounce_key = v.unique_key and k.state = 'pending'
                  order by k.id desc limit 1)
     and t.state = 'pending'
  returning t.id
), inserted as (
  insert into {{schema}}.task (
    queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
    timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
    rate_key, run_at, group_key, start_by, job_id, step_index, trace_context, debounce_key)
  select v.queue, v.input, v.max_attempts, v.retry_initial_ms, v.retry_max_ms, v.retry_coefficient,
         v.retry_jitter, v.timeout_ms, v.heartbeat_ms, v.ttl_ms, v.priority, v.concurrency_key, v.concurrency_limit,
         null, v.rate_key, now() + (v.delay_ms + :debounceMs::float8) * interval '1 millisecond', v.group_key,
         now() + v.start_within_ms * interval '1 millisecond', v.job_id, v.step_index, v.trace_context, v.unique_key
    from v
   where not exists (select 1 from pushed)
  returning id
)
select p.id::text, 'debounced' as status from pushed p
union all
select i.id::text, 'created' from inserted i
