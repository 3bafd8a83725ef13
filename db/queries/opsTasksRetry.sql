-- $1 after this id, $2 batch size, $3 the ready channel, $4 the event kind
-- (`retried` or `redriven`). {{where}}: the filter with the action's own
-- conditions (failed or cancelled tasks), its parameters from $5. Moves a
-- batch back to pending, due now, in the queue it was dead-lettered from (or
-- its own), with a fresh retry budget as tasksRedrive.sql gives: `attempt`
-- never goes back (it fences stale writers), `max_attempts` moves up to
-- `attempt + budget`. Recorded as a task_event. A task whose unique key a
-- live task holds is skipped, as is all but the lowest id of a key within
-- the batch, so task_unique_key_idx never refuses the batch. The tasks
-- move from task_finished back into task (keeping their ids): a DELETE …
-- RETURNING and an INSERT in this statement.
with candidates as (
  select t.id, t.queue_name, t.state, coalesce(t.dlq_from, t.queue_name) as target, t.unique_key
    from {{schema}}.task_finished t
   where t.id > $1::bigint and {{where}}
   order by t.id
   limit $2
   for update skip locked
), chosen as (
  select c.id, c.queue_name, c.state from (
    select c.*, row_number() over (partition by c.target, c.unique_key order by c.id) as rank from candidates c
  ) c
   where c.unique_key is null
      or (c.rank = 1 and not exists (
            select 1 from {{schema}}.task live
             where live.queue_name = c.target and live.unique_key = c.unique_key))
), taken as (
  delete from {{schema}}.task_finished t
   using chosen c
   where t.id = c.id
  returning t.*, c.queue_name as previous_queue, c.state as previous_state
), moved as (
  insert into {{schema}}.task (
    id, queue_name, state, input, attempt, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient,
    retry_jitter, timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
    run_at, job_id, step_index, created_at, started_at, attempt_budget, trace_context, group_key, rate_key)
  overriding system value
  select t.id, coalesce(t.dlq_from, t.queue_name), 'pending', t.input, t.attempt,
         t.attempt + coalesce(t.attempt_budget, t.max_attempts), t.retry_initial_ms, t.retry_max_ms,
         t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.ttl_ms, t.priority,
         t.concurrency_key, t.concurrency_limit, t.unique_key, now(), t.job_id, t.step_index, t.created_at,
         t.started_at, coalesce(t.attempt_budget, t.max_attempts), t.trace_context, t.group_key, t.rate_key
    from taken t
  returning id, attempt, queue_name, max_attempts
), recorded as (
  insert into {{schema}}.task_event (task_id, kind, attempt, details)
  select m.id, $4::text, m.attempt,
         jsonb_build_object('from', t.previous_queue, 'to', m.queue_name, 'state', t.previous_state,
                            'maxAttempts', m.max_attempts)
    from moved m join taken t on t.id = m.id
), woken as (
  -- task_inserted wakes only queues with a waiting worker, in this
  -- statement's snapshot: wake them all here (on commit), as before.
  select pg_notify($3::text, q.queue_name) from (select distinct queue_name from moved) q
)
select (select max(id) from candidates)::text as "lastId",
       (select count(*) from candidates)::int as matched,
       (select count(*) from moved)::int as changed,
       (select count(*) from woken)::int as woken
