-- Live tasks apart from finished ones (issue 20, docs/design/storage-v2.md,
-- design B). `task` keeps pending and running tasks only, so the claim, the
-- lease renewals and vacuum never meet a finished row however long the
-- history. A task's end (success, final failure, cancel) deletes it from
-- `task` and inserts it into `task_finished` in the same statement: one
-- identity, moved not copied, so ids stay unique across both tables.
--
-- task_finished has task's columns in task's order (LIKE), so `select *`
-- of either reads the same and task_all (below) is a plain UNION ALL. A
-- migration that adds a column to task must add it here too.
--
-- A plain table swept by DELETE off an expiry index, as task was: daily
-- partitions (the doc's recommendation) are a later step, see "What
-- shipped" in the design doc.
create table {{schema}}.task_finished (like {{schema}}.task including defaults);
alter table {{schema}}.task_finished alter column id drop default;
alter table {{schema}}.task_finished add primary key (id);
-- Lets a read of live states through task_all skip this table when planned.
alter table {{schema}}.task_finished add constraint task_finished_state_check
  check (state in ('succeeded', 'failed', 'cancelled'));

-- The history moves over in this transaction (an exclusive lock on task
-- while it copies: see the doc's "Migration" for tables with millions of
-- finished rows).
insert into {{schema}}.task_finished
select * from {{schema}}.task where state in ('succeeded', 'failed', 'cancelled');
delete from {{schema}}.task where state in ('succeeded', 'failed', 'cancelled');

-- What ops lists, counts and task pages read (the dashboard and the CLI go
-- through ops), and outcome streams when they read a task back.
create index task_finished_queue_state_idx on {{schema}}.task_finished (queue_name, state, id);
create index task_finished_job_idx on {{schema}}.task_finished (job_id) where job_id is not null;
create index task_finished_key_list_idx on {{schema}}.task_finished (concurrency_key, id)
  where concurrency_key is not null;
-- The sweep reads expired tasks in expiry order (tasksDeleteExpired.sql).
create index task_finished_expiry_idx on {{schema}}.task_finished
  ({{schema}}.task_expires_at(finished_at, ttl_ms));
create statistics {{schema}}.task_finished_queue_state_stat (mcv) on queue_name, state
  from {{schema}}.task_finished;

-- Off the live table: finished rows are not there any more.
drop index {{schema}}.task_expiry_idx;
-- Every live row is pending or running: the state predicate goes, the name
-- stays (ops' bulk retry recognises a unique-key race by it). An INSERT's
-- `on conflict (queue_name, unique_key) where unique_key is not null and
-- state in (…)` still infers it (its predicate implies the index's).
drop index {{schema}}.task_unique_key_idx;
create unique index task_unique_key_idx on {{schema}}.task (queue_name, unique_key)
  where unique_key is not null;

-- Error search across queues (0013) off a trigram index on each table,
-- where the first one could be made.
do $$
declare
  trgm_schema name;
begin
  select n.nspname into trgm_schema
    from pg_extension e join pg_namespace n on n.oid = e.extnamespace
   where e.extname = 'pg_trgm';
  if trgm_schema is null or to_regclass('{{schema}}.task_error_trgm_idx') is null then
    return;
  end if;
  begin
    execute format(
      'create index if not exists task_finished_error_trgm_idx on {{schema}}.task_finished using gin (error %I.gin_trgm_ops) where error is not null',
      trgm_schema);
  exception
    when insufficient_privilege then
      raise notice 'underway: no trigram index on task_finished.error (%: %)', sqlstate, sqlerrm;
  end;
end
$$;

-- Every task, live or finished, for reads by id, job, queue and state.
-- Each branch is read through its own indexes; a read in id order merges
-- the two (Merge Append).
create view {{schema}}.task_all as
  select * from {{schema}}.task
  union all
  select * from {{schema}}.task_finished;

-- The completions and failures of the hot path delete and insert the row
-- themselves (tasksComplete.sql and the others). Any other statement that
-- ends a task does it with an UPDATE to a final state (a cancel of a
-- pending task, the reaper's last attempt, a retry or release whose cancel
-- was requested, through task_cancel_wins): this moves such a row at the
-- end of that statement, so task never holds a finished row past one.
create function {{schema}}.task_finish() returns trigger language plpgsql as $$
begin
  delete from {{schema}}.task where id = new.id;
  insert into {{schema}}.task_finished select new.*;
  return null;
end;
$$;

create trigger task_finish after update of state on {{schema}}.task
  for each row
  when (new.state in ('succeeded', 'failed', 'cancelled'))
  execute function {{schema}}.task_finish();

-- A live row as it reads once ended: its state, output, error, queue and
-- dlq_from those it ends with, finished at `finished_at`, its lease gone.
-- Set-returning, stable SQL, a single SELECT: called in FROM (LATERAL) it
-- is inlined into the calling statement, so it costs no call per row, and
-- task_finished's 31 columns are listed here only.
create function {{schema}}.task_ended(t {{schema}}.task, state {{schema}}.task_state, output jsonb, error text,
                                     queue_name text, dlq_from text, finished_at timestamptz)
  returns setof {{schema}}.task_finished language sql stable as $$
  select t.id, $5, $2, t.input, $3, $4, t.attempt, t.max_attempts, t.retry_initial_ms, t.retry_max_ms,
         t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.ttl_ms, t.priority,
         t.concurrency_key, t.concurrency_limit, t.unique_key, t.run_at, null::timestamptz, t.worker_id, $6,
         t.job_id, t.step_index, t.created_at, t.started_at, $7, t.attempt_budget, t.cancel_requested_at,
         t.trace_context
$$;

-- A running task's success, or its cancel when one was requested: the
-- cancel wins, as trigger task_cancel_wins makes it win over an UPDATE.
create function {{schema}}.task_succeeded(t {{schema}}.task, output jsonb, finished_at timestamptz)
  returns setof {{schema}}.task_finished language sql stable as $$
  select * from {{schema}}.task_ended(
    t, case when t.cancel_requested_at is null then 'succeeded' else 'cancelled' end::{{schema}}.task_state,
    case when t.cancel_requested_at is null then $2 end, case when t.cancel_requested_at is not null then 'cancelled' end,
    t.queue_name, t.dlq_from, $3)
$$;

-- A running task's final failure (moved to `dlq` when not null), or its
-- cancel when one was requested.
create function {{schema}}.task_failed(t {{schema}}.task, error text, dlq text, finished_at timestamptz)
  returns setof {{schema}}.task_finished language sql stable as $$
  select * from {{schema}}.task_ended(
    t, case when t.cancel_requested_at is null then 'failed' else 'cancelled' end::{{schema}}.task_state, null,
    case when t.cancel_requested_at is null then $2 else 'cancelled' end,
    case when t.cancel_requested_at is null then coalesce($3, t.queue_name) else t.queue_name end,
    case when t.cancel_requested_at is null and $3 is not null then t.queue_name else t.dlq_from end, $4)
$$;

-- Outcomes. A final state is an insert into task_finished: one statement
-- trigger reads the statement's rows from its transition table, with one
-- look for a listener per statement rather than per row, so underway.unheard
-- (0012) is no longer needed. A retry stays a row trigger on task.
--
-- It also records the attempt a cancel won over (a cancel requested while
-- it ran, which ended it): what trigger task_cancel_wins does for an
-- UPDATE, here for the statements that end a task by DELETE and INSERT.
-- Once: a row task_cancel_wins recorded already is left as it is.
create function {{schema}}.task_finished_inserted() returns trigger language plpgsql as $$
begin
  insert into {{schema}}.task_attempt (task_id, attempt, state, error, started_at)
  select f.id, f.attempt, 'cancelled', 'cancelled', f.started_at from finished f
   where f.state = 'cancelled' and f.cancel_requested_at is not null and f.started_at is not null
  on conflict do nothing;
  if not exists (select 1 from {{schema}}.outcome_listener where expires_at > now()) then
    return null;
  end if;
  -- NOTIFY's payload limit is 8000 bytes: a large output or error is left
  -- out and flagged, and the subscriber reads the row.
  perform pg_notify(tg_table_schema || '.outcome',
                    case when octet_length(p::text) > 7800
                         then (p - 'output' - 'error' || '{"truncated": true}'::jsonb)::text
                         else p::text end)
     from (select jsonb_build_object(
                    'id', f.id::text, 'queue', f.queue_name, 'state', f.state, 'attempt', f.attempt,
                    'output', f.output, 'error', f.error, 'runAt', f.run_at, 'jobId', f.job_id,
                    'stepIndex', f.step_index, 'dlqFrom', f.dlq_from) as p
             from finished f order by f.id) o;
  return null;
end;
$$;

create trigger task_finished_inserted after insert on {{schema}}.task_finished
  referencing new table as finished
  for each statement execute function {{schema}}.task_finished_inserted();

drop trigger task_changed on {{schema}}.task;
create trigger task_changed after update of state on {{schema}}.task
  for each row
  -- a retry; a release at shutdown gives the attempt back and is no outcome
  when (old.state = 'in_progress' and new.state = 'pending' and new.attempt = old.attempt)
  execute function {{schema}}.task_changed();

-- The estimate of one (queue, state), from the table that state lives in.
create or replace function {{schema}}.task_count_estimate(queue text, task_state {{schema}}.task_state)
  returns bigint language plpgsql volatile as $$
declare
  plan json;
begin
  execute format('explain (format json) select 1 from %s where queue_name = %L and state = %L',
                 case when task_state in ('pending', 'in_progress') then '{{schema}}.task'
                      else '{{schema}}.task_finished' end,
                 queue, task_state)
    into plan;
  return (plan -> 0 -> 'Plan' ->> 'Plan Rows')::bigint;
end;
$$;

analyze {{schema}}.task_finished;
