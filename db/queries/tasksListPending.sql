-- :queue, :limit: a queue's pending tasks with their inputs, oldest first, for
-- underway/testing's enqueuedTasks (a test asserting what its code enqueued).
-- Live tasks only (task, not task_all); task_queue_state_idx (queue_name,
-- state, id) gives them in order, so the limit stops the scan.
select id::text, input, run_at as "runAt", priority, concurrency_key as "concurrencyKey",
       group_key as "group", job_id::text as "jobId", step_index as "stepIndex"
  from {{schema}}.task
 where queue_name = :queue and state = 'pending'
 order by id
 limit :limit
