-- A worker's batch of successes and its next claim in one statement: one
-- round trip and one commit instead of two. $1 ids, $2 attempts, $3 outputs
-- (as tasksComplete, fenced alike); $4 queue, $5 how many to claim, $6 worker
-- id, $7 how many keyed tasks start now (as tasksClaim, whose comments
-- explain the candidate rules and unstarted prefetched keyed tasks). Returns one
-- row: the ids completed, and the claimed tasks as a JSON array of
-- tasksClaim's rows. The claim's snapshot still sees this statement's
-- completions as running, so a concurrency key freed here is taken again by
-- the next claim, not this one (never more than the limit).
-- Committed without waiting for the WAL flush: a completion or claim lost in
-- a server crash only makes a task run again (see docs/reliability.md).
with done as (
  -- As tasksComplete: each success leaves task and goes into task_finished.
  delete from {{schema}}.task t
    -- By subscript, not unnest: see tasksComplete.
   using (select ($1::bigint[])[i] as id, ($2::integer[])[i] as attempt, ($3::jsonb[])[i] as output
            from generate_subscripts($1::bigint[], 1) i) v
   where (select set_config('synchronous_commit', 'off', true)) = 'off'
     and t.id = v.id and t.attempt = v.attempt and t.state = 'in_progress'
     and t.id = any($1::bigint[])
  returning t, v.output as result
), finished as (
  insert into {{schema}}.task_finished
  select f.* from done d cross join lateral {{schema}}.task_succeeded(d.t, d.result, now()) f
), locked as (
  select id, concurrency_key, concurrency_limit, priority, run_at
    from {{schema}}.task t
   where (select set_config('synchronous_commit', 'off', true)) = 'off'
     and queue_name = $4 and state = 'pending' and run_at <= now()
     and not exists (select 1 from {{schema}}.queue q where q.name = $4 and q.paused_at is not null)
     and (concurrency_key is null or (
           select count(*) from (
             select 1 from {{schema}}.task r
              where r.queue_name = t.queue_name and r.concurrency_key = t.concurrency_key
                and r.state = 'in_progress' and r.started_at is not null
              limit t.concurrency_limit) running) < t.concurrency_limit)
   order by priority desc, run_at, id
   limit $5
   for update skip locked
), ranked as (
  select id, concurrency_key, concurrency_limit,
         row_number() over (partition by concurrency_key order by priority desc, run_at, id) as rank,
         row_number() over (order by priority desc, run_at, id) as batch_rank
    from locked
), claimed as (
  update {{schema}}.task t
     set state = 'in_progress',
         attempt = t.attempt + 1,
         worker_id = $6,
         started_at = case when r.concurrency_key is null or r.batch_rank <= $7 then now() end,
         lease_expires_at = now() + t.heartbeat_ms * interval '1 millisecond'
    from ranked r
   where t.id = r.id and (r.concurrency_key is null or r.rank <= r.concurrency_limit)
     and t.id = any(array(select id from locked))
  returning t.id::text as id, t.input, t.attempt, t.max_attempts, t.retry_initial_ms, t.retry_max_ms,
            t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.concurrency_key,
            t.concurrency_limit, t.job_id, t.step_index, t.priority, t.dlq_from, t.attempt_budget,
            t.started_at is not null as admitted,
            (extract(epoch from now() - t.run_at) * 1000)::float8 as wait_ms, t.trace_context
)
select array(select (d.t).id::text from done d where (d.t).cancel_requested_at is null) as completed,
       coalesce((select json_agg(c) from claimed c), '[]'::json) as claimed
