-- :id, :attempt, :errorMessage, :attemptState, :dlq (the dead-letter queue
-- or null), :errorName, :errorStack (or null).
-- Failed for good: the task leaves task for task_finished, moved to the
-- dead-letter queue when one is set (the row keeps its id and history,
-- `dlq_from` remembers where it came from). A row whose cancel was
-- requested ends cancelled instead (task_failed; trigger
-- task_finished_inserted records its attempt) and is not returned.
with done as (
  delete from {{schema}}.task t
   where t.id = :id and t.attempt = :attempt and t.state = 'in_progress'
  returning t
), finished as (
  insert into {{schema}}.task_finished
  select f.* from done d cross join lateral {{schema}}.task_failed(d.t, :errorMessage, :dlq, now()) f
)
insert into {{schema}}.task_attempt (task_id, attempt, state, error, error_name, error_stack, started_at)
select (d.t).id, (d.t).attempt, :attemptState, :errorMessage, :errorName, :errorStack, (d.t).started_at from done d where (d.t).cancel_requested_at is null
returning task_id::text
