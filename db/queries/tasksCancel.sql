-- $1 task id or null, $2 job id or null, $3 the cancel channel. Pending and running tasks become
-- cancelled at once; running ones are announced on `<schema>.cancel` so the
-- worker running each, in whatever process, fires its AbortSignal. The
-- worker's own late write is fenced off by the state change.
with target as (
  select id, state from {{schema}}.task
   where (id = $1::bigint or job_id = $2::uuid) and state in ('pending', 'in_progress')
   for update
), cancelled as (
  update {{schema}}.task t
     set state = 'cancelled', finished_at = now(), lease_expires_at = null, error = 'cancelled'
    from target
   where t.id = target.id
  returning t.id, target.state as previous, t.attempt, t.started_at
), recorded as (
  insert into {{schema}}.task_attempt (task_id, attempt, state, error, started_at)
  select id, attempt, 'cancelled', 'cancelled', started_at from cancelled where previous = 'in_progress'
  on conflict do nothing
)
select c.id::text, c.previous::text,
       case when c.previous = 'in_progress'
            then pg_notify($3, c.id::text) end as notified
  from cancelled c
