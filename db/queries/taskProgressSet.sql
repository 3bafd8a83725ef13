-- :taskId, :attempt, :value (JSON text), :channel (<schema>.progress): stores an attempt's latest
-- progress and tells progress streams of every process, if any listens.
-- Fenced: written only while the attempt still holds the task (in progress,
-- same attempt), so a stale worker's write is refused and a deleted task
-- gets no row. KEY SHARE on the task row makes a concurrent delete (the
-- task's completion, an operator's delete) wait for this statement instead
-- of leaving a row behind; SKIP LOCKED never waits for a row locked FOR
-- UPDATE (an operator's cancel, a handler's own transaction): the caller
-- tries again later. Says which: written, gone (the attempt no longer holds
-- the task: nothing more is written) or locked.
-- NOTIFY's payload limit is 8000 bytes: a larger value is left out and
-- flagged, and subscribers read the row.
with target as (
  select t.id, t.queue_name, t.job_id, t.step_index
    from {{schema}}.task t
   where t.id = :taskId::bigint and t.attempt = :attempt and t.state = 'in_progress'
     for key share skip locked
), saved as (
  insert into {{schema}}.task_progress as p (task_id, attempt, value, updated_at)
  select g.id, :attempt, :value::jsonb, now() from target g
  on conflict (task_id) do update
     set attempt = excluded.attempt, value = excluded.value, updated_at = excluded.updated_at
  returning p.task_id, p.updated_at
), notified as (
  select pg_notify(:channel,
                   case when octet_length(n.p::text) > 7800
                        then (n.p - 'value' || '{"truncated": true}'::jsonb)::text
                        else n.p::text end)
    from (select jsonb_build_object(
                   'id', g.id::text, 'queue', g.queue_name, 'attempt', :attempt::integer,
                   'jobId', g.job_id, 'stepIndex', g.step_index, 'at', s.updated_at,
                   'value', :value::jsonb) as p
            from target g join saved s on s.task_id = g.id
           where exists (select 1 from {{schema}}.outcome_listener where expires_at > now())) n
)
select case when exists (select 1 from saved) then 'written'
            when exists (select 1 from {{schema}}.task t
                          where t.id = :taskId::bigint and t.attempt = :attempt and t.state = 'in_progress')
            then 'locked'
            else 'gone' end as status,
       (select count(*) from notified)::int as notified
