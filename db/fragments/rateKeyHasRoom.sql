-- The rate rule as a hint, for task `t` of queue :queue (tasksNextDue; the
-- claim, function task_claim of db/migrations/0024_claim_fast_path.sql,
-- has a copy in each of its two statements): false when `t` has a rateLimitKey whose budget is spent now
-- (rate_has_room, db/migrations/0015_rate_limits.sql), so a backlog of one
-- key cannot fill every batch while other keys have room. Read in the
-- statement's snapshot; the exact check is the task_rate_admit trigger,
-- under the budget's lock. A task without a key costs nothing here (the
-- queue's own budget is queue_claim_mode's), nor does a key of a queue
-- without a limit beyond the call.
(t.rate_key is null or {{schema}}.rate_has_room(:queue, t.rate_key))
