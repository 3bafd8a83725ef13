-- One step's success that fans out: :ids, :attempts, :outputs (one element
-- each: the success write of tasksComplete, the same fragments, and the job
-- lock of tasksCompleteAndContinue), then, if it was written and no cancel
-- was requested, in the same statement: a batch of the children (no
-- callback; 0021_batches.sql counts their ends), the children themselves
-- (:queues and the task columns, one element per child, in the order the
-- step listed them; each linked to the step's span), and the batch's
-- continuation, the fan_out row (0023_fan_in.sql): the job's next step
-- :stepIndex, with its task columns :nextStep (jsonb, by the names of
-- EnqueueColumns) and the policy :policy. So the step's end and its
-- children are written together or not at all: a crash before the commit
-- loses both (the step runs again once its lease expires), a commit has
-- both, and a fenced-off completion (reclaimed, cancelled) starts no child.
-- Identity values are drawn in the order the rows are inserted (ORDER BY
-- ord): the children's ids ascend in the order listed, and child_ids keeps
-- them so. A fan-out of no children never comes here (it is a plain next
-- step with an empty list). Returns the step's id and the batch's id.
with {{> stepSuccesses}}, made as (
  insert into {{schema}}.batch (queue_name, total, ttl_ms)
  select c.queue_name, cardinality(:queues::text[]), :batchTtlMs::bigint from completed c
  returning id
), children as (
  insert into {{schema}}.task (
    queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
    timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
    rate_key, run_at, group_key, start_by, job_id, step_index, trace_context, batch_id)
  select v.queue_name, v.input, v.max_attempts, v.retry_initial_ms, v.retry_max_ms, v.retry_coefficient,
         v.retry_jitter, v.timeout_ms, v.heartbeat_ms, v.ttl_ms, v.priority, v.concurrency_key,
         v.concurrency_limit, v.unique_key, v.rate_key, now() + v.delay_ms * interval '1 millisecond',
         v.group_key, now() + v.start_within_ms * interval '1 millisecond', v.job_id, v.step_index,
         c.trace_context, m.id
    from completed c cross join made m
   cross join unnest(:queues::text[], :inputs::jsonb[], :maxAttempts::integer[], :retryInitialMs::integer[],
                     :retryMaxMs::integer[], :retryCoefficient::float8[], :retryJitter::float8[],
                     :timeoutMs::integer[], :heartbeatMs::integer[], :ttlMs::bigint[], :priority::integer[],
                     :concurrencyKey::text[], :concurrencyLimit::integer[], :uniqueKey::text[],
                     :rateLimitKey::text[], :delayMs::float8[], :groupKey::text[], :startWithinMs::float8[],
                     :jobId::uuid[], :stepIndex::integer[])
         with ordinality as v(queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient,
              retry_jitter, timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit,
              unique_key, rate_key, delay_ms, group_key, start_within_ms, job_id, step_index, ord)
   order by v.ord
  returning id
), fan as (
  insert into {{schema}}.fan_out (batch_id, job_id, queue_name, parent_task_id, step_index, policy, child_ids,
                                  next_step, group_key, trace_context)
  select m.id, c.job_id, c.queue_name, c.id, :nextStepIndex::integer, :policy::text,
         (select coalesce(array_agg(k.id order by k.id), '{}') from children k), :nextStep::jsonb,
         c.group_key, c.trace_context
    from completed c cross join made m
  returning batch_id
)
select c.id::text as id, (select f.batch_id::text from fan f) as "batchId" from completed c
