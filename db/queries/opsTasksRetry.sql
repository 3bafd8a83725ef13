-- $1 after this id, $2 batch size, $3 the ready channel, $4 the event kind
-- (`retried` or `redriven`). {{where}}: the filter with the action's own
-- conditions (failed or cancelled tasks), its parameters from $5. Moves a
-- batch back to pending, due now, in the queue it was dead-lettered from (or
-- its own), with a fresh retry budget as tasksRedrive.sql gives: `attempt`
-- never goes back (it fences stale writers), `max_attempts` moves up to
-- `attempt + budget`. Recorded as a task_event. A task whose unique key a
-- live task holds is skipped, as is all but the lowest id of a key within
-- the batch, so task_unique_key_idx never refuses the batch.
with candidates as (
  select t.id, t.queue_name, t.state, coalesce(t.dlq_from, t.queue_name) as target, t.unique_key
    from {{schema}}.task t
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
             where live.queue_name = c.target and live.unique_key = c.unique_key
               and live.state in ('pending', 'in_progress')))
), moved as (
  update {{schema}}.task t
     set queue_name = coalesce(t.dlq_from, t.queue_name), dlq_from = null, state = 'pending', run_at = now(),
         attempt_budget = coalesce(t.attempt_budget, t.max_attempts),
         max_attempts = t.attempt + coalesce(t.attempt_budget, t.max_attempts),
         error = null, output = null, finished_at = null, lease_expires_at = null, worker_id = null,
         cancel_requested_at = null
    from chosen c
   where t.id = c.id
  returning t.id, t.attempt, t.queue_name, t.max_attempts, c.queue_name as previous_queue, c.state as previous_state
), recorded as (
  insert into {{schema}}.task_event (task_id, kind, attempt, details)
  select id, $4::text, attempt,
         jsonb_build_object('from', previous_queue, 'to', queue_name, 'state', previous_state,
                            'maxAttempts', max_attempts)
    from moved
), woken as (
  -- An UPDATE fires no insert trigger: wake the queues' workers (on commit).
  select pg_notify($3::text, q.queue_name) from (select distinct queue_name from moved) q
)
select (select max(id) from candidates)::text as "lastId",
       (select count(*) from candidates)::int as matched,
       (select count(*) from moved)::int as changed,
       (select count(*) from woken)::int as woken
