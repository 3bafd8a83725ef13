-- $1 queues (null: every queue that has tasks, found by a loose scan of
-- task_queue_state_idx), $2 states, $3 the cursor's id (null: from the
-- start), $4 rows wanted. {{where}}: the rest of the filter, its parameters
-- from $5; {{after}} and {{direction}}: `<` and `desc` (newest first) or
-- `>` and `asc`. Each (queue, state) pair reads at most $4 rows in id order
-- off task_queue_state_idx, and the pairs merge: a page costs about
-- pairs x rows, however large the table.
with recursive names(name) as (
  (select t.queue_name from {{schema}}.task t where $1::text[] is null order by t.queue_name limit 1)
  union all
  select (select t.queue_name from {{schema}}.task t where t.queue_name > n.name order by t.queue_name limit 1)
    from names n where n.name is not null
), queues(name) as (
  select unnest($1::text[])
  union
  select name from names where name is not null
)
select page.*
  from queues q
 cross join unnest($2::{{schema}}.task_state[]) s(state)
 cross join lateral (
   select t.id as sort_id, t.id::text as id, t.queue_name as queue, t.state, t.attempt,
          t.max_attempts as "maxAttempts", t.priority, t.concurrency_key as "concurrencyKey",
          t.job_id as "jobId", t.step_index as "stepIndex", left(t.error, 1000) as error,
          t.run_at as "runAt", t.created_at as "createdAt", t.started_at as "startedAt",
          t.finished_at as "finishedAt"
     from {{schema}}.task t
    where t.queue_name = q.name and t.state = s.state
      and ($3::bigint is null or t.id {{after}} $3::bigint)
      and {{where}}
    order by t.id {{direction}}
    limit $4
 ) page
 order by page.sort_id {{direction}}
 limit $4
