-- :jobId: a job's fan-outs, oldest first, for its page: the batch each
-- waits on (its counts), policy and how it settled. Through fan_out's
-- primary key after a scan of the job's rows: a job has few.
select o.batch_id::text as "batchId", o.parent_task_id::text as "parentTaskId", o.step_index as "stepIndex",
       o.policy, o.settled, o.next_task_id::text as "nextTaskId", o.error,
       b.total, b.succeeded, b.failed, b.cancelled
  from {{schema}}.fan_out o
  join {{schema}}.batch b on b.id = o.batch_id
 where o.job_id = :jobId::uuid
 order by o.batch_id
