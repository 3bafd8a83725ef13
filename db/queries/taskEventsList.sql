-- $1 id: what happened to a task besides its attempts, oldest first.
select kind, attempt, at, details
  from {{schema}}.task_event
 where task_id = $1
 order by id
