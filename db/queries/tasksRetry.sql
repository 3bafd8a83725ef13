-- :id, :attempt, :errorMessage, :delayMs (ms), :attemptState ('failed' or
-- 'timed_out'), :errorName, :errorStack (or null).
-- Back to pending after the policy's delay; the failed attempt is recorded
-- in the same statement. Fenced by the attempt number. A row whose cancel
-- was requested ends cancelled instead (trigger task_cancel_wins, which
-- records the attempt) and is not returned; it moves to task_finished
-- (trigger task_finish, migration 0014).
with retried as (
  update {{schema}}.task t
     set state = 'pending', error = :errorMessage, run_at = now() + :delayMs * interval '1 millisecond',
         lease_expires_at = null, worker_id = null
   where t.id = :id and t.attempt = :attempt and t.state = 'in_progress'
  returning t.id, t.attempt, t.started_at, t.state
)
insert into {{schema}}.task_attempt (task_id, attempt, state, error, error_name, error_stack, started_at)
select id, attempt, :attemptState, :errorMessage, :errorName, :errorStack, started_at from retried where state = 'pending'
returning task_id::text
