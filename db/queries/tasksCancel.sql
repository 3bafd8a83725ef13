-- :taskId or null, :jobId or null, :channel the cancel channel, :queue the queue
-- (a handle cancels only its own queue's tasks). A pending
-- task becomes cancelled at once. A running one is only marked
-- cancel-requested: it stays in progress, and keeps its concurrency key's
-- slot, until its handler really ends or its lease expires; then whatever
-- ends the attempt ends the task cancelled (trigger task_cancel_wins). It is
-- announced on `<schema>.cancel` so the worker running it, in whatever
-- process, fires its AbortSignal. One UPDATE, its CASEs evaluated on the
-- row as locked: a task claimed while this waits for its row lock is seen
-- running, not pending. For a job, the caller holds the job's lock
-- (tasksLockJob) so no step completing concurrently escapes this statement.
-- A task this makes cancelled moves to task_finished at the end of the
-- statement (trigger task_finish, migration 0014).
update {{schema}}.task t
   set state = case when t.state = 'pending' then 'cancelled' else t.state end,
       finished_at = case when t.state = 'pending' then now() else t.finished_at end,
       error = case when t.state = 'pending' then 'cancelled' else t.error end,
       cancel_requested_at = case when t.state = 'in_progress' then coalesce(t.cancel_requested_at, now()) end
 where (t.id = :taskId::bigint or t.job_id = :jobId::uuid) and t.state in ('pending', 'in_progress')
   and t.queue_name = :queue
returning t.id::text,
          case when t.state = 'cancelled' then 'pending' else 'in_progress' end as previous,
          case when t.state = 'in_progress' then pg_notify(:channel, t.id::text) end as notified
