-- :id: what happened to a task besides its attempts, oldest first.
select kind, attempt, at, details
  from {{schema}}.task_event
 where task_id = :id
 order by id
