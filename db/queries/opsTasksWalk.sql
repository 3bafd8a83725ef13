-- A bounded search: walks the primary key from the cursor ($1, null: from
-- the newest or oldest end) in {{direction}}, reading at most $3 rows, and
-- returns the rows that match {{where}} (its parameters from $4), at most
-- $2 of them. For filters no index narrows across every queue (an input
-- containing some JSON, an error pattern without a trigram or without the
-- trigram index): common matches fill the page after a few rows; rare
-- ones cost at most $3 rows, never the whole table.
--
-- The $3rd row read comes back too, as a marker (`n` = $3) whether it
-- matches or not: the caller continues the search after it. The inner
-- LIMIT keeps the filter from being pushed below it, so the plan is
-- always the same lazy pipeline: index scan, row_number, filter, limit;
-- the scan stops as soon as the outer limit is met.
select s.sort_id, s.id, s.queue, s.state, s.attempt, s."maxAttempts", s.priority, s."concurrencyKey",
       s."jobId", s."stepIndex", s.error, s."runAt", s."createdAt", s."startedAt", s."finishedAt",
       s."dlqFrom", s.hit, s.n::integer as n
  from (select t.id as sort_id, t.id::text as id, t.queue_name as queue, t.state, t.attempt,
               t.max_attempts as "maxAttempts", t.priority, t.concurrency_key as "concurrencyKey",
               t.job_id as "jobId", t.step_index as "stepIndex", left(t.error, 1000) as error,
               t.run_at as "runAt", t.created_at as "createdAt", t.started_at as "startedAt",
               t.finished_at as "finishedAt", t.dlq_from as "dlqFrom",
               {{where}} as hit,
               row_number() over (order by t.id {{direction}}) as n
          from {{schema}}.task_all t
         where ($1::bigint is null or t.id {{after}} $1::bigint)
         order by t.id {{direction}}
         limit $3) s
 where s.hit or s.n = $3
 limit $2
