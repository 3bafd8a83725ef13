-- A batch of successes of job steps that have a next step: $1 ids,
-- $2 attempts, $3 outputs; then one next-step row per completed task, keyed
-- by $4 source ids. One statement, so completing a step and enqueuing the
-- next happen together or not at all: a fenced-off completion (reclaimed,
-- cancelled) inserts no next step, and a crash between steps cannot run a
-- step twice or skip one. Each job's lock is held in share mode from before
-- its step's row is written to commit (task_job_lock_shared, in the WHERE so
-- it runs before the row is locked): a job's cancel waits for this statement
-- or this statement waits for the cancel, and then finds its step
-- cancel-requested, ends it cancelled (task_succeeded) and
-- continues nothing. Each success leaves task and goes into task_finished.
-- Committed without waiting for the WAL flush (synchronous_commit off for
-- this transaction only, set in the statement so it costs no round trip): a
-- completion (and its next step) lost in a server crash leaves the step in progress, so it runs
-- again once its lease expires, which at-least-once delivery allows. See
-- docs/reliability.md.
with done as (
  -- As tasksComplete: each success leaves task and goes into task_finished.
  delete from {{schema}}.task t
    -- By subscript, not unnest: see tasksComplete.
   using (select ($1::bigint[])[i] as id, ($2::integer[])[i] as attempt, ($3::jsonb[])[i] as output
            from generate_subscripts($1::bigint[], 1) i) v
   where (select set_config('synchronous_commit', 'off', true)) = 'off'
     and t.id = v.id and t.attempt = v.attempt and t.state = 'in_progress' and t.id = any($1::bigint[])
     and {{schema}}.task_job_lock_shared(t.job_id)
  returning t, v.output as result
), finished as (
  insert into {{schema}}.task_finished
  select f.* from done d cross join lateral {{schema}}.task_succeeded(d.t, d.result, now()) f
), completed as (
  select (d.t).id, (d.t).queue_name, (d.t).job_id, (d.t).trace_context from done d
   where (d.t).cancel_requested_at is null
), continued as (
  insert into {{schema}}.task (
    queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
    timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
    run_at, job_id, step_index, trace_context)
  select c.queue_name, n.input, n.max_attempts, n.retry_initial_ms, n.retry_max_ms, n.retry_coefficient,
         n.retry_jitter, n.timeout_ms, n.heartbeat_ms, n.ttl_ms, n.priority, n.concurrency_key,
         n.concurrency_limit, n.unique_key, now() + n.delay_ms * interval '1 millisecond', c.job_id, n.step_index,
         c.trace_context -- each step links to the span that enqueued the job
    from unnest($4::bigint[], $5::jsonb[], $6::integer[], $7::integer[], $8::integer[], $9::float8[],
                $10::float8[], $11::integer[], $12::integer[], $13::bigint[], $14::integer[], $15::text[],
                $16::integer[], $17::text[], $18::float8[], $19::integer[])
         as n(source_id, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
              timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
              delay_ms, step_index)
    join completed c on c.id = n.source_id
  returning id
)
select id::text from completed
