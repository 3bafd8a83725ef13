-- A job step's success, the head of tasksCompleteAndContinue and
-- tasksCompleteAndFanOut: the CTEs `done` (the fenced success write,
-- holding the job's lock shared, so a cancel of the job waits for it or it
-- for the cancel), successesFinished's, and `completed`: the steps that
-- succeeded without a cancel requested, with what their continuation
-- needs (queue, job, trace, group). Takes successesFenced's parameters.
done as (
  {{> successesFenced}}
     and {{schema}}.task_job_lock_shared(t.job_id)
  returning t, v.output as result
), {{> successesFinished}}, completed as (
  select (d.t).id, (d.t).queue_name, (d.t).job_id, (d.t).trace_context, (d.t).group_key from done d
   where (d.t).cancel_requested_at is null
)
