-- Per-key concurrency by counting, and cancellation that waits for the
-- handler. See docs/design/concurrency-keys.md for the options weighed.

-- 0001 kept a counter per key in concurrency_slot. Its insert-on-conflict
-- waited on another claim's uncommitted insert of a new key (two claims
-- taking two new keys in opposite order deadlocked), a batch touched slot
-- rows in no fixed order, rows were never pruned, and nothing corrected a
-- counter that drifted. The count is now read from the task rows themselves.
drop trigger task_slot_take on {{schema}}.task;
drop trigger task_slot_give on {{schema}}.task;
drop trigger task_slot_give_delete on {{schema}}.task;
drop function {{schema}}.task_slot_take();
drop function {{schema}}.task_slot_give();
drop table {{schema}}.concurrency_slot;

-- The running tasks of a key, counted by the claim trigger below, by the
-- claim's pre-filter and by the next-due read. At most about a key's limit
-- of live entries per key, however long the backlog.
create index task_key_running_idx on {{schema}}.task (queue_name, concurrency_key)
  where state = 'in_progress' and concurrency_key is not null;

-- A cancel of a running task is a request: the task stays in progress (and
-- keeps its key's slot) until its handler really ends or its lease expires.
-- Nullable without default: adding it rewrites no rows.
alter table {{schema}}.task add column cancel_requested_at timestamptz;

-- The advisory lock keys. Hashes of text: a collision only makes two keys
-- (or jobs) wait for each other now and then, never wrong.
create function {{schema}}.task_key_lock_id(schema_name text, queue_name text, concurrency_key text)
  returns bigint language sql immutable parallel safe
  as $$ select hashtextextended(jsonb_build_array(schema_name, queue_name, concurrency_key)::text, 1) $$;

-- Per job, not per schema: job ids are uuids.
create function {{schema}}.task_job_lock_id(job_id uuid) returns bigint language sql immutable parallel safe
  as $$ select hashtextextended(job_id::text, 2) $$;

-- A claim admits a keyed task only while its key runs fewer than its limit.
-- The try-lock never waits, so no two claims can deadlock whatever order
-- their batches take keys in; a claim that cannot have the lock leaves the
-- task pending, as SKIP LOCKED does, for the next claim. Held to commit, so
-- the next claimer of the key counts after this claim's rows are visible.
-- Volatile (the default): each query here takes a fresh snapshot, which
-- sees committed rows and this statement's earlier rows, so a batch that
-- claims two rows of a key counts the first when admitting the second.
-- Nothing is stored, so nothing can drift: the count is the state itself.
-- Tasks of one key enqueued with different limits (a deploy lowered it): the
-- strictest limit among the running ones and the claimed one wins, so a
-- lowered limit holds at once instead of after the old tasks drain.
create function {{schema}}.task_key_admit() returns trigger language plpgsql volatile as $$
declare
  running integer;
  strictest integer;
begin
  if not pg_try_advisory_xact_lock(
       {{schema}}.task_key_lock_id(tg_table_schema, new.queue_name, new.concurrency_key)) then
    return null;
  end if;
  select count(*), least(min(concurrency_limit), new.concurrency_limit) into running, strictest from (
    select r.concurrency_limit from {{schema}}.task r
     where r.queue_name = new.queue_name and r.concurrency_key = new.concurrency_key
       and r.state = 'in_progress'
     limit new.concurrency_limit) capped;
  if running >= coalesce(strictest, new.concurrency_limit) then
    return null;
  end if;
  return new;
end;
$$;

create trigger task_key_admit before update of state on {{schema}}.task
  for each row
  when (new.concurrency_key is not null and old.state <> 'in_progress' and new.state = 'in_progress')
  execute function {{schema}}.task_key_admit();

-- Once a cancel was requested, whatever ends the attempt (the worker's
-- success, retry or failure, the reaper, a release at shutdown) ends the
-- task cancelled: the cancel was acknowledged, so it wins, and a completing
-- job step enqueues no next step. The cancelled attempt is recorded here,
-- once; the writers record no attempt for a row that comes back cancelled.
create function {{schema}}.task_cancel_wins() returns trigger language plpgsql as $$
begin
  if new.attempt = old.attempt and old.started_at is not null then
    insert into {{schema}}.task_attempt (task_id, attempt, state, error, started_at)
    values (old.id, old.attempt, 'cancelled', 'cancelled', old.started_at)
    on conflict do nothing;
  end if;
  new.state := 'cancelled';
  new.error := 'cancelled';
  new.output := null;
  new.finished_at := now();
  new.lease_expires_at := null;
  new.run_at := old.run_at;
  new.queue_name := old.queue_name;
  new.dlq_from := old.dlq_from;
  return new;
end;
$$;

create trigger task_cancel_wins before update of state on {{schema}}.task
  for each row
  when (old.cancel_requested_at is not null and old.state = 'in_progress' and new.state <> 'in_progress')
  execute function {{schema}}.task_cancel_wins();

-- Taken in share mode by every statement that completes job steps and
-- enqueues their next steps, and exclusively by a job's cancel before it
-- reads the job's tasks: a cancel sees every step committed before it, and
-- a step completing after it finds its task cancel-requested (and enqueues
-- nothing). Returns true so it can sit in a WHERE clause.
create function {{schema}}.task_job_lock_shared(job_id uuid) returns boolean language plpgsql volatile as $$
begin
  if job_id is not null then
    perform pg_advisory_xact_lock_shared({{schema}}.task_job_lock_id(job_id));
  end if;
  return true;
end;
$$;
