-- $1 id, $2 attempt, $3 error message, $4 attempt state, $5 dead-letter queue or null,
-- $6 error name, $7 error stack or null.
-- Failed for good; moved to the dead-letter queue when one is set (the row
-- keeps its id and history, `dlq_from` remembers where it came from). A row
-- whose cancel was requested ends cancelled instead (task_cancel_wins) and
-- is not returned.
with failed as (
  update {{schema}}.task t
     set state = 'failed', error = $3, finished_at = now(), lease_expires_at = null,
         queue_name = coalesce($5, t.queue_name),
         dlq_from = case when $5::text is null then t.dlq_from else t.queue_name end
   where t.id = $1 and t.attempt = $2 and t.state = 'in_progress'
  returning t.id, t.attempt, t.started_at, t.state
)
insert into {{schema}}.task_attempt (task_id, attempt, state, error, error_name, error_stack, started_at)
select id, attempt, $4, $3, $6, $7, started_at from failed where state = 'failed'
returning task_id::text
