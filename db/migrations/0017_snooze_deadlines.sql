-- Snooze and start deadlines (issue 21, parts 4 and 5). See
-- docs/flow-control.md#snooze and #deadlines.

-- Columns (kept together for the merge with other migrations that add some).
-- task_finished has task's columns in task's order (0014): both gain them last.
-- start_by: the time a task must have started by, or it is cancelled
-- instead (null: no deadline, what every task stored before has; nullable
-- without default, so adding it rewrites no rows). Cleared by the claim
-- that starts the task: the deadline is for the first start only.
-- snoozes: how many times its handler snoozed it (snooze(ms)); a constant
-- default, so adding it rewrites no rows either (PostgreSQL 11+).
alter table {{schema}}.task add column start_by timestamptz, add column snoozes integer not null default 0;
alter table {{schema}}.task_finished add column start_by timestamptz, add column snoozes integer not null default 0;

-- The view of every task (0014) lists the columns it was made with: made again, it has them too.
create or replace view {{schema}}.task_all as
  select * from {{schema}}.task
  union all
  select * from {{schema}}.task_finished;

-- A live row as it reads once ended (0014), with 0015's and 0016's columns and these two appended.
create or replace function {{schema}}.task_ended(t {{schema}}.task, state {{schema}}.task_state, output jsonb, error text,
                                     queue_name text, dlq_from text, finished_at timestamptz)
  returns setof {{schema}}.task_finished language sql stable as $$
  select t.id, $5, $2, t.input, $3, $4, t.attempt, t.max_attempts, t.retry_initial_ms, t.retry_max_ms,
         t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.ttl_ms, t.priority,
         t.concurrency_key, t.concurrency_limit, t.unique_key, t.run_at, null::timestamptz, t.worker_id, $6,
         t.job_id, t.step_index, t.created_at, t.started_at, $7, t.attempt_budget, t.cancel_requested_at,
         t.trace_context, t.rate_key, t.rate_limited, t.group_key, t.start_by, t.snoozes
$$;

-- The reaper's sweep finds the pending tasks past their deadline here: only
-- tasks with a deadline are in it, so queues without any pay one probe of
-- an empty index per sweep, nothing per task.
create index task_start_by_idx on {{schema}}.task (start_by) where state = 'pending' and start_by is not null;
