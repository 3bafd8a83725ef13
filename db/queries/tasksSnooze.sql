-- :id, :attempt, :delayMs (ms). A handler snoozed (snooze(ms)): back to
-- pending, due in :delayMs, without spending the attempt: the attempt
-- number goes back one, so the claim that runs it again counts the same
-- attempt, and no task_attempt row is written (that row is keyed by the
-- attempt number: the attempt is not over). Its history gets a `snoozed`
-- task_event instead (what ops.task and `underway tasks show` list), and
-- `snoozes` counts them for the definition's maxSnoozes. Fenced by the
-- attempt number like a retry. A row whose cancel was requested keeps its
-- attempt number, and trigger task_cancel_wins ends it cancelled as it
-- does a retry (recording the attempt); no event then, nothing returned.
with snoozed as (
  update {{schema}}.task t
     set state = 'pending', run_at = now() + :delayMs::float8 * interval '1 millisecond',
         attempt = case when t.cancel_requested_at is null then t.attempt - 1 else t.attempt end,
         snoozes = t.snoozes + 1,
         lease_expires_at = null, worker_id = null
   where t.id = :id and t.attempt = :attempt and t.state = 'in_progress'
  returning t.id, t.state, t.snoozes, t.run_at
)
insert into {{schema}}.task_event (task_id, kind, attempt, details)
select id, 'snoozed', :attempt::integer,
       jsonb_build_object('delayMs', :delayMs::float8, 'until', run_at, 'snoozes', snoozes)
  from snoozed where state = 'pending'
returning task_id::text
