-- An error search across every queue, off the trigram index on error
-- (migration 0013): $1 the cursor's id (null: from the start), $2 rows
-- wanted, {{where}} the filter (its parameters from $3). The subquery is
-- fenced (OFFSET 0) so that it is planned without the ORDER BY ... LIMIT:
-- left to itself the planner walked the primary key whenever the pattern
-- looked common, and for matches that are all old (an error of last week)
-- read 9 million rows to find them (9 s). Fenced, it reads every match off
-- the index and sorts them: the cost follows the number of matches, not
-- the table. A common recent match never gets here: the bounded walk
-- before it (opsTasksWalk.sql, src/ops/taskPage.ts) fills the page first.
select m.*
  from (select t.id as sort_id, t.id::text as id, t.queue_name as queue, t.state, t.attempt,
               t.max_attempts as "maxAttempts", t.priority, t.concurrency_key as "concurrencyKey",
               t.job_id as "jobId", t.step_index as "stepIndex", left(t.error, 1000) as error,
               t.run_at as "runAt", t.created_at as "createdAt", t.started_at as "startedAt",
               t.finished_at as "finishedAt", t.dlq_from as "dlqFrom"
          from {{schema}}.task_all t
         where ($1::bigint is null or t.id {{after}} $1::bigint)
           and {{where}}
        offset 0) m
 order by m.sort_id {{direction}}
 limit $2
