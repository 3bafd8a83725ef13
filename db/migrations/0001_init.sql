-- Core tables of underway. `{{schema}}` is replaced by the validated, quoted
-- schema identifier before this file runs; nothing else is interpolated.

create type {{schema}}.task_state as enum ('pending', 'in_progress', 'succeeded', 'cancelled', 'failed');

create table {{schema}}.queue (
  name text primary key,
  dlq_name text,
  created_at timestamptz not null default now()
);

-- No foreign key from task to queue: it would cost a lookup per inserted row
-- on the enqueue hot path, and the seed's DLQ move broke on it. Queue names
-- are checked when a queue is created, and tasks never outlive their queue.
create table {{schema}}.task (
  id bigint generated always as identity primary key,
  queue_name text not null,
  state {{schema}}.task_state not null default 'pending',
  input jsonb not null,
  output jsonb,
  error text,
  attempt integer not null default 0,
  max_attempts integer not null,
  retry_initial_ms integer not null,
  retry_max_ms integer not null,
  retry_coefficient double precision not null,
  retry_jitter double precision not null,
  timeout_ms integer not null,
  heartbeat_ms integer not null,
  ttl_ms bigint not null,
  priority integer not null default 0,
  concurrency_key text,
  concurrency_limit integer not null default 1,
  unique_key text,
  run_at timestamptz not null default now(),
  lease_expires_at timestamptz,
  worker_id text,
  dlq_from text,
  job_id uuid,
  step_index integer,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
) with (fillfactor = 80);

-- Pending work only: the claim never wades through finished rows, however
-- many the table keeps.
create index task_claim_idx on {{schema}}.task (queue_name, priority desc, run_at, id)
  where state = 'pending';
create index task_lease_idx on {{schema}}.task (lease_expires_at) where state = 'in_progress';
create index task_job_idx on {{schema}}.task (job_id) where job_id is not null;
create unique index task_unique_key_idx on {{schema}}.task (queue_name, unique_key)
  where unique_key is not null and state in ('pending', 'in_progress');

-- Every attempt that did not succeed; a success is the task row itself.
create table {{schema}}.task_attempt (
  task_id bigint not null,
  attempt integer not null,
  state text not null,
  error text,
  started_at timestamptz,
  finished_at timestamptz not null default now(),
  primary key (task_id, attempt)
);

-- Tasks of one concurrency key in progress right now, across all workers.
create table {{schema}}.concurrency_slot (
  queue_name text not null,
  concurrency_key text not null,
  running integer not null default 0 check (running >= 0),
  primary key (queue_name, concurrency_key)
);

-- Workers that found their queue empty and wait for a NOTIFY. A committing
-- NOTIFY holds a database-wide lock through its commit, which serialises
-- every notifying transaction: one NOTIFY per enqueue would cap single
-- enqueues at one per WAL flush. So an insert notifies only while a worker
-- waits; busy workers find work by claiming again as they finish. A row
-- outlives its worker by at most `expires_at` (a crashed worker costs a few
-- useless notifications, nothing else). Unlogged: after a crash the workers
-- register again on their next empty claim.
create unlogged table {{schema}}.queue_waiter (
  queue_name text not null,
  worker_id text not null,
  expires_at timestamptz not null,
  primary key (queue_name, worker_id)
);

-- One NOTIFY per queue touched by an INSERT statement, not per row: a bulk
-- enqueue of 100,000 tasks wakes workers once.
create function {{schema}}.task_inserted() returns trigger language plpgsql as $$
begin
  perform pg_notify(tg_table_schema || '.ready', q.queue_name)
    from (select distinct queue_name from inserted where state = 'pending') q
   where exists (select 1 from {{schema}}.queue_waiter w
                  where w.queue_name = q.queue_name and w.expires_at > now());
  return null;
end;
$$;

create trigger task_inserted after insert on {{schema}}.task
  referencing new table as inserted
  for each statement execute function {{schema}}.task_inserted();

-- Processes subscribed to outcome streams. Like queue_waiter: a NOTIFY per
-- finished task would serialise every completing commit on the notify lock
-- and cost a payload per task, so outcomes are sent only while someone
-- listens. A registration lapses at `expires_at` unless its process renews it.
create unlogged table {{schema}}.outcome_listener (
  listener_id text primary key,
  expires_at timestamptz not null
);

-- Outcomes: terminal states and scheduled retries, for outcome streams in any
-- process. A row trigger whose WHEN clause filters in C: claims and lease
-- renewals, the most frequent updates, never call it. A NOTIFY payload is
-- capped at 8000 bytes, so a large output or error is left out and flagged;
-- the subscriber then reads the row.
create function {{schema}}.task_changed() returns trigger language plpgsql as $$
declare
  payload jsonb;
  text_payload text;
begin
  if not exists (select 1 from {{schema}}.outcome_listener where expires_at > now()) then
    return null;
  end if;
  payload := jsonb_build_object(
    'id', new.id::text, 'queue', new.queue_name, 'state', new.state, 'attempt', new.attempt,
    'output', new.output, 'error', new.error, 'runAt', new.run_at, 'jobId', new.job_id,
    'stepIndex', new.step_index, 'dlqFrom', new.dlq_from);
  text_payload := payload::text;
  if length(text_payload) > 7800 then
    text_payload := (payload - 'output' - 'error' || '{"truncated": true}'::jsonb)::text;
  end if;
  perform pg_notify(tg_table_schema || '.outcome', text_payload);
  return null;
end;
$$;

create trigger task_changed after update of state on {{schema}}.task
  for each row
  when (old.state is distinct from new.state
        and (new.state in ('succeeded', 'failed', 'cancelled')
             -- a retry; a release at shutdown gives the attempt back and is no outcome
             or (old.state = 'in_progress' and new.state = 'pending' and new.attempt = old.attempt)))
  execute function {{schema}}.task_changed();

-- Serialized execution per concurrency key, enforced where it cannot race:
-- a claim takes a slot under a row lock (skipping a slot another claim holds,
-- so claims never deadlock or wait), and returning NULL leaves the task
-- pending when the key is at its limit.
create function {{schema}}.task_slot_take() returns trigger language plpgsql as $$
declare
  slot_running integer;
begin
  insert into {{schema}}.concurrency_slot (queue_name, concurrency_key)
    values (new.queue_name, new.concurrency_key) on conflict do nothing;
  select running into slot_running from {{schema}}.concurrency_slot
   where queue_name = new.queue_name and concurrency_key = new.concurrency_key
   for update skip locked;
  if not found or slot_running >= new.concurrency_limit then
    return null;
  end if;
  update {{schema}}.concurrency_slot set running = running + 1
   where queue_name = new.queue_name and concurrency_key = new.concurrency_key;
  return new;
end;
$$;

create trigger task_slot_take before update of state on {{schema}}.task
  for each row
  when (new.concurrency_key is not null and old.state <> 'in_progress' and new.state = 'in_progress')
  execute function {{schema}}.task_slot_take();

create function {{schema}}.task_slot_give() returns trigger language plpgsql as $$
begin
  update {{schema}}.concurrency_slot set running = running - 1
   where queue_name = old.queue_name and concurrency_key = old.concurrency_key;
  return null;
end;
$$;

create trigger task_slot_give after update of state on {{schema}}.task
  for each row
  when (old.concurrency_key is not null and old.state = 'in_progress' and new.state <> 'in_progress')
  execute function {{schema}}.task_slot_give();

create trigger task_slot_give_delete after delete on {{schema}}.task
  for each row
  when (old.concurrency_key is not null and old.state = 'in_progress')
  execute function {{schema}}.task_slot_give();
