-- :limit batch size. Deletes one batch of finished tasks whose ttl has passed,
-- with their attempts, events, progress and log lines (one index probe each
-- per task, an empty probe for a task that reported none: the sweep pays
-- for them, not the completion). Only task_finished is read: pending and
-- running tasks (in task) are never touched. Read in expiry order off
-- task_finished_expiry_idx; SKIP LOCKED lets many sweepers share the work
-- and never wait on a row someone else holds, and the batch bounds how many
-- row locks one statement takes.
with expired as (
  select id
    from {{schema}}.task_finished
   where {{schema}}.task_expires_at(finished_at, ttl_ms) < now()
   order by {{schema}}.task_expires_at(finished_at, ttl_ms)
   limit :limit
   for update skip locked
), attempts as (
  delete from {{schema}}.task_attempt a using expired e where a.task_id = e.id
), events as (
  delete from {{schema}}.task_event v using expired e where v.task_id = e.id
), progress as (
  delete from {{schema}}.task_progress p using expired e where p.task_id = e.id
), logs as (
  delete from {{schema}}.task_log l using expired e where l.task_id = e.id
)
delete from {{schema}}.task_finished t
 using expired e
 where t.id = e.id
returning t.id::text
