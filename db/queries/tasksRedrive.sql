-- $1 dead-letter queue, $2 ids or null, $3 error substring (case-insensitive)
-- or null, $4 failed before or null, $5 batch size, $6 channel of ready
-- notifications. Moves failed tasks back to the queue they came from, with a
-- fresh retry budget: `attempt` never goes back (it fences stale writers), so
-- `max_attempts` moves up to `attempt + budget` instead. The redrive is
-- recorded as a task_event. Returns the ids moved.
with candidates as (
  select t.id, t.dlq_from, t.unique_key, t.finished_at
    from {{schema}}.task t
   where t.queue_name = $1::text and t.state = 'failed' and t.dlq_from is not null
     and ($2::bigint[] is null or t.id = any($2::bigint[]))
     and ($3::text is null or strpos(lower(coalesce(t.error, '')), lower($3::text)) > 0)
     and ($4::timestamptz is null or t.finished_at < $4::timestamptz)
     -- A live task holding the same unique key would make the move fail;
     -- such a task stays in the dead-letter queue.
     and (t.unique_key is null or not exists (
           select 1 from {{schema}}.task live
            where live.queue_name = t.dlq_from and live.unique_key = t.unique_key
              and live.state in ('pending', 'in_progress')))
   order by t.finished_at, t.id
   limit $5
   for update skip locked
), chosen as (
  -- Of dead-lettered tasks sharing a unique key, only the oldest goes live.
  select id from (
    select id, unique_key,
           row_number() over (partition by dlq_from, unique_key order by finished_at, id) as rank
      from candidates
  ) ranked
   where unique_key is null or rank = 1
), moved as (
  update {{schema}}.task t
     set queue_name = t.dlq_from, dlq_from = null, state = 'pending', run_at = now(),
         attempt_budget = coalesce(t.attempt_budget, t.max_attempts),
         max_attempts = t.attempt + coalesce(t.attempt_budget, t.max_attempts),
         error = null, output = null, finished_at = null, lease_expires_at = null, worker_id = null
    from chosen c
   where t.id = c.id
  returning t.id, t.attempt, t.queue_name, t.max_attempts
), recorded as (
  insert into {{schema}}.task_event (task_id, kind, attempt, details)
  select id, 'redriven', attempt,
         jsonb_build_object('from', $1::text, 'to', queue_name, 'maxAttempts', max_attempts)
    from moved
), woken as (
  -- An UPDATE fires no insert trigger: wake the queues' workers here, once
  -- per queue (delivered on commit).
  select pg_notify($6::text, q.queue_name) from (select distinct queue_name from moved) q
)
-- The scalar subquery makes `woken` run (a plain SELECT in a CTE runs only
-- when read); it is evaluated once, not per row.
select m.id::text, (select count(*) from woken)::int as woken
  from moved m
 order by m.id
