-- One statement for a batch of successes: :ids, :attempts, :outputs.
-- Each task leaves `task` (DELETE … RETURNING) and goes into task_finished
-- in the same statement (docs/design/storage-v2.md; the write is
-- db/fragments/successesFenced.sql and successesFinished.sql). Fenced: a row
-- reclaimed since (new attempt) or no longer in progress is left alone and
-- not returned. A row whose cancel was requested ends cancelled instead
-- (task_succeeded; trigger task_finished_inserted records its attempt) and
-- is not returned either.
-- Committed without waiting for the WAL flush (db/fragments/commitAsync.sql):
-- a completion lost in a server crash leaves the task in progress, so it
-- runs again once its lease expires, which at-least-once delivery allows.
-- See docs/reliability.md.
with done as (
  {{> successesFenced}}
  returning t, v.output as result
), {{> successesFinished}}
select (d.t).id::text as id from done d where (d.t).cancel_requested_at is null
