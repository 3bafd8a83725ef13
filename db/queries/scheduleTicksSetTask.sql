-- $1 queue, $2 tick time, $3 the task it enqueued: which task each tick made.
update {{schema}}.schedule_tick set task_id = $3 where queue_name = $1 and tick_at = $2
