-- Progress and per-task logs (issue 22, parts 3 and 4;
-- docs/design/progress-logs.md). Tables of their own, not columns of
-- `task`: a queue whose handlers never call ctx.progress or ctx.log pays
-- nothing on claim, completion or the copy into task_finished (no column
-- to carry, no trigger), and task_ended / task_all stay as they are.
--
-- No foreign key to the task: a task moves between `task` and
-- `task_finished` (a DELETE and an INSERT), which a foreign key would
-- refuse or cascade. Rows go with their task instead in the statements
-- that delete tasks (tasksDeleteExpired, opsTasksDelete), and they are
-- written only while their attempt holds the task (fenced in
-- taskProgressSet and taskLogsAppend under a KEY SHARE lock on the task
-- row, which a delete waits for), so no row outlives its task.

-- The latest progress value of a task, of whichever attempt wrote last.
create table {{schema}}.task_progress (
  task_id bigint primary key,
  attempt integer not null,
  value jsonb not null,
  updated_at timestamptz not null default now()
);

-- An attempt's log lines. `seq` numbers every line the handler logged in
-- the attempt, from 1, kept or not: lines cut (oldest first, past the
-- definition's maxLogLines) leave a gap below the smallest seq kept, so
-- the count cut is max(seq) - count(*), with no counter to keep.
create table {{schema}}.task_log (
  task_id bigint not null,
  attempt integer not null,
  seq integer not null,
  at timestamptz not null,
  message text not null,
  primary key (task_id, attempt, seq)
);
