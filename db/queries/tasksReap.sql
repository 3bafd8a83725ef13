-- :limit, the batch size. Tasks whose lease expired (their worker died or hung): back
-- to pending, or failed (and dead-lettered) when attempts are exhausted. The
-- lost attempt is recorded. SKIP LOCKED makes concurrent reapers safe. A
-- task whose cancel was requested ends cancelled instead of retrying
-- (trigger task_cancel_wins, which records the attempt as cancelled). A task
-- that ends here (failed or cancelled) moves to task_finished at the end of
-- the statement (trigger task_finish, migration 0014).
-- Also ends cancelled the pending tasks past their start deadline
-- (start_by, which the claim never takes), with the reason as their error,
-- so their outcome subscribers hear of it: `missed`, off task_start_by_idx
-- (only tasks with a deadline are in it). Not returned: they were never
-- leased, and the rows returned are the reaped leases.
with missed as (
  update {{schema}}.task t
     set state = 'cancelled', finished_at = now(),
         error = 'not started by ' || to_char(t.start_by at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
               || ' (its startBy deadline)'
   where t.id in (select m.id from {{schema}}.task m
                   where m.state = 'pending' and m.start_by is not null and m.start_by <= now()
                   order by m.start_by limit :limit
                   for update skip locked)
), expired as (
  select id, queue_name from {{schema}}.task
   where state = 'in_progress' and lease_expires_at < now()
   order by lease_expires_at
   limit :limit
   for update skip locked
), reaped as (
  update {{schema}}.task t
     set state = case when t.attempt >= t.max_attempts then 'failed' else 'pending' end::{{schema}}.task_state,
         error = 'lease expired: worker ' || coalesce(t.worker_id, '?') || ' stopped heartbeating',
         run_at = now(),
         finished_at = case when t.attempt >= t.max_attempts then now() end,
         queue_name = case when t.attempt >= t.max_attempts
                           then coalesce((select q.dlq_name from {{schema}}.queue q where q.name = t.queue_name), t.queue_name)
                           else t.queue_name end,
         dlq_from = case when t.attempt >= t.max_attempts
                          and (select q.dlq_name from {{schema}}.queue q where q.name = t.queue_name) is not null
                         then t.queue_name else t.dlq_from end,
         lease_expires_at = null, worker_id = null
    from expired e
   where t.id = e.id
  returning t.id, t.attempt, t.started_at, t.error, t.state
), lost as (
  insert into {{schema}}.task_attempt (task_id, attempt, state, error, started_at)
  select id, attempt, 'lost', error, started_at from reaped where state <> 'cancelled'
)
-- The queue each came from (before a move to its DLQ), for metrics.
select r.id::text as task_id, e.queue_name as queue from reaped r join expired e on e.id = r.id
