-- $1 the cursor's id (null: from the start), $2 rows wanted. {{where}}: the
-- whole filter, its parameters from $3; {{after}} and {{direction}} as in
-- opsTasksByPair.sql. For filters with ids, a job id or a concurrency key,
-- served by the primary key, task_job_idx or task_key_list_idx.
select t.id as sort_id, t.id::text as id, t.queue_name as queue, t.state, t.attempt,
       t.max_attempts as "maxAttempts", t.priority, t.concurrency_key as "concurrencyKey",
       t.job_id as "jobId", t.step_index as "stepIndex", left(t.error, 1000) as error,
       t.run_at as "runAt", t.created_at as "createdAt", t.started_at as "startedAt",
       t.finished_at as "finishedAt", t.dlq_from as "dlqFrom"
  from {{schema}}.task_all t
 where ($1::bigint is null or t.id {{after}} $1::bigint)
   and {{where}}
 order by t.id {{direction}}
 limit $2
