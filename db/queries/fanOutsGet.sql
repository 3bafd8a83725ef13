-- :batchId: the fan-out a batch continues, if any, as ops.batch shows it:
-- the waiting job and step, its policy, and how it settled.
select o.job_id::text as "jobId", o.queue_name as queue, o.parent_task_id::text as "parentTaskId",
       o.step_index as "stepIndex", o.policy, o.settled, o.settled_at as "settledAt",
       o.next_task_id::text as "nextTaskId", o.error
  from {{schema}}.fan_out o
 where o.batch_id = :batchId::bigint
