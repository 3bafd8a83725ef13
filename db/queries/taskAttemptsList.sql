-- :id: the attempt history, oldest first; a successful or running attempt
-- is read from the task row itself.
select attempt, state, error, error_name as "errorName", error_stack as "errorStack",
       started_at as "startedAt", finished_at as "finishedAt"
  from {{schema}}.task_attempt where task_id = :id
union all
select t.attempt, t.state::text, null, null, null, t.started_at, t.finished_at
  from {{schema}}.task_all t
 where t.id = :id and t.attempt > 0 and t.state in ('succeeded', 'in_progress', 'cancelled')
   and not exists (select 1 from {{schema}}.task_attempt a where a.task_id = t.id and a.attempt = t.attempt)
order by attempt
