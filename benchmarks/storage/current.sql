-- The current schema (db/migrations, applied by the runner through migrate()).
-- Its enqueue, claim and completion are the real statements of db/queries
-- (tasksEnqueueUniform, tasksClaim, tasksComplete); only the filler is here.

-- name: fill
-- $1 rows: finished (succeeded) tasks as a long-lived queue keeps them,
-- finished over the past 7 days, kept 14 days.
insert into {{schema}}.task (queue_name, state, input, output, attempt, max_attempts, retry_initial_ms,
  retry_max_ms, retry_coefficient, retry_jitter, timeout_ms, heartbeat_ms, ttl_ms, run_at, worker_id,
  created_at, started_at, finished_at)
select 'old', 'succeeded',
       jsonb_build_object('userId', g, 'email', 'user' || g || '@example.com', 'template', 'welcome'),
       '{"ok": true}', 1, 5, 1000, 60000, 2, 0.5, 900000, 30000, 1209600000,
       now() - interval '7 days' + g * (interval '7 days' / $1), 'w-old',
       now() - interval '7 days' + g * (interval '7 days' / $1),
       now() - interval '7 days' + g * (interval '7 days' / $1),
       now() - interval '7 days' + g * (interval '7 days' / $1)
  from generate_series(1, $1::int) g
