-- :ids: tasks as the outcome stream describes them, for many waiters in one read.
select id::text, queue_name as queue, state, attempt, output, error, run_at as "runAt", job_id as "jobId",
       step_index as "stepIndex", dlq_from as "dlqFrom"
  from {{schema}}.task_all where id = any(:ids::bigint[])
