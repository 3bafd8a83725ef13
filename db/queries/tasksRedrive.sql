-- :dlq dead-letter queue, :ids or null, :errorLike error substring (case-insensitive)
-- or null, :failedBefore or null, :limit batch size, :channel of ready
-- notifications. Moves failed tasks back to the queue they came from, with a
-- fresh retry budget: `attempt` never goes back (it fences stale writers), so
-- `max_attempts` moves up to `attempt + budget` instead. The redrive is
-- recorded as a task_event. Returns the ids moved. The tasks move from
-- task_finished back into task, keeping their ids (DELETE … RETURNING and
-- INSERT in this statement).
with candidates as (
  select t.id, t.dlq_from, t.unique_key, t.finished_at
    from {{schema}}.task_finished t
   where t.queue_name = :dlq::text and t.state = 'failed' and t.dlq_from is not null
     and (:ids::bigint[] is null or t.id = any(:ids::bigint[]))
     and (:errorLike::text is null or strpos(lower(coalesce(t.error, '')), lower(:errorLike::text)) > 0)
     and (:failedBefore::timestamptz is null or t.finished_at < :failedBefore::timestamptz)
     -- A live task holding the same unique key would make the move fail;
     -- such a task stays in the dead-letter queue.
     and (t.unique_key is null or not exists (
           select 1 from {{schema}}.task live
            where live.queue_name = t.dlq_from and live.unique_key = t.unique_key))
   order by t.finished_at, t.id
   limit :limit
   for update skip locked
), chosen as (
  -- Of dead-lettered tasks sharing a unique key, only the oldest goes live.
  select id from (
    select id, unique_key,
           row_number() over (partition by dlq_from, unique_key order by finished_at, id) as rank
      from candidates
  ) ranked
   where unique_key is null or rank = 1
), taken as (
  delete from {{schema}}.task_finished t
   using chosen c
   where t.id = c.id
  returning t.*
), moved as (
  insert into {{schema}}.task (
    id, queue_name, state, input, attempt, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient,
    retry_jitter, timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
    run_at, job_id, step_index, created_at, started_at, attempt_budget, cancel_requested_at, trace_context,
    group_key, rate_key)
  overriding system value
  select t.id, t.dlq_from, 'pending', t.input, t.attempt, t.attempt + coalesce(t.attempt_budget, t.max_attempts),
         t.retry_initial_ms, t.retry_max_ms, t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms,
         t.ttl_ms, t.priority, t.concurrency_key, t.concurrency_limit, t.unique_key, now(), t.job_id,
         t.step_index, t.created_at, t.started_at, coalesce(t.attempt_budget, t.max_attempts),
         t.cancel_requested_at, t.trace_context, t.group_key, t.rate_key
    from taken t
  returning id, attempt, queue_name, max_attempts
), recorded as (
  insert into {{schema}}.task_event (task_id, kind, attempt, details)
  select id, 'redriven', attempt,
         jsonb_build_object('from', :dlq::text, 'to', queue_name, 'maxAttempts', max_attempts)
    from moved
), woken as (
  -- task_inserted wakes only queues with a waiting worker: wake them all
  -- here, once per queue (delivered on commit), as before.
  select pg_notify(:channel::text, q.queue_name) from (select distinct queue_name from moved) q
)
-- The scalar subquery makes `woken` run (a plain SELECT in a CTE runs only
-- when read); it is evaluated once, not per row.
select m.id::text, (select count(*) from woken)::int as woken
  from moved m
 order by m.id
