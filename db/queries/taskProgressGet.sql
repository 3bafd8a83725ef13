-- :ids: the latest progress of these tasks (those that reported any).
select p.task_id::text as "taskId", p.attempt, p.value, p.updated_at as "updatedAt"
  from {{schema}}.task_progress p
 where p.task_id = any(:ids::bigint[])
