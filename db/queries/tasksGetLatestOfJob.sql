-- :jobId: its furthest step, as outcome streams describe it.
select id::text, queue_name as queue, state, attempt, output, error, run_at as "runAt", job_id as "jobId",
       step_index as "stepIndex", dlq_from as "dlqFrom"
  from {{schema}}.task_all where job_id = :jobId
 order by step_index desc, id desc
 limit 1
