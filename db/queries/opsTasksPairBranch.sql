-- One (queue, state) pair of opsTasksByPair.sql: QUEUE and STATE are the
-- parameters holding the pair, WHERE the rest of the filter. Both
-- subqueries are fenced (OFFSET 0) so the plan is always the same: walk
-- the pair's range of task_queue_state_idx in id order (index-only), look
-- each row up by primary key, check the rest of the filter, stop at $2
-- rows. Left to itself the planner walked the primary key past every
-- other pair's rows (a rare pair on 10 million rows: 70 s), or hash-joined
-- a whole-table scan for a jsonb filter. A filter that matches rarely
-- reads its whole pair, never more.
(select page.*
   from (select t.id
           from {{schema}}.task_all t
          where t.queue_name = {{queue}}::text and t.state = {{state}}::{{schema}}.task_state
            and ($1::bigint is null or t.id {{after}} $1::bigint)
          order by t.id {{direction}}
         offset 0) ids
  cross join lateral (
    select t.id as sort_id, t.id::text as id, t.queue_name as queue, t.state, t.attempt,
           t.max_attempts as "maxAttempts", t.priority, t.concurrency_key as "concurrencyKey",
           t.job_id as "jobId", t.step_index as "stepIndex", left(t.error, 1000) as error,
           t.run_at as "runAt", t.created_at as "createdAt", t.started_at as "startedAt",
           t.finished_at as "finishedAt", t.dlq_from as "dlqFrom"
      from {{schema}}.task_all t
     where t.id = ids.id and {{where}}
    offset 0) page
  -- Already in this order (the nested loop keeps the index's): no sort.
  order by ids.id {{direction}}
  limit $2)
