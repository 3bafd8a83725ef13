-- :queue, :tickAt tick time, :taskId the task it enqueued: which task each tick made.
update {{schema}}.schedule_tick set task_id = :taskId where queue_name = :queue and tick_at = :tickAt
