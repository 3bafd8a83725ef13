-- $1 id, $2 attempt, $3 error message, $4 attempt state, $5 dead-letter queue or null,
-- $6 error name, $7 error stack or null.
-- Failed for good: the task leaves task for task_finished, moved to the
-- dead-letter queue when one is set (the row keeps its id and history,
-- `dlq_from` remembers where it came from). A row whose cancel was
-- requested ends cancelled instead (task_failed; trigger
-- task_finished_inserted records its attempt) and is not returned.
with done as (
  delete from {{schema}}.task t
   where t.id = $1 and t.attempt = $2 and t.state = 'in_progress'
  returning t
), finished as (
  insert into {{schema}}.task_finished
  select f.* from done d cross join lateral {{schema}}.task_failed(d.t, $3, $5, now()) f
)
insert into {{schema}}.task_attempt (task_id, attempt, state, error, error_name, error_stack, started_at)
select (d.t).id, (d.t).attempt, $4, $3, $6, $7, (d.t).started_at from done d where (d.t).cancel_requested_at is null
returning task_id::text
