-- Batches with callbacks (issue 22, part 2): a set of tasks enqueued
-- together, and one callback task enqueued when every one of them has ended.
-- See docs/design/batches.md and docs/workflows.md#batches.

-- Columns (kept together for the merge with other migrations that add some).
-- task_finished has task's columns in task's order (0014): both gain it last.
-- batch_id: the batch a task belongs to (null: none, what every task stored
-- before has). Nullable without default: adding it rewrites no rows, and a
-- task outside a batch stores nothing. Not carried by a redrive or a retry
-- from ops (their insert lists leave it out): a member's first end is the one
-- its batch counts, and a task sent back to run leaves its batch.
alter table {{schema}}.task add column batch_id bigint;
alter table {{schema}}.task_finished add column batch_id bigint;

-- The view of every task (0014) lists the columns it was made with: made again, it has batch_id too.
create or replace view {{schema}}.task_all as
  select * from {{schema}}.task
  union all
  select * from {{schema}}.task_finished;

-- A live row as it reads once ended (0014), with the columns of 0015-0018 and batch_id appended.
create or replace function {{schema}}.task_ended(t {{schema}}.task, state {{schema}}.task_state, output jsonb, error text,
                                     queue_name text, dlq_from text, finished_at timestamptz)
  returns setof {{schema}}.task_finished language sql stable as $$
  select t.id, $5, $2, t.input, $3, $4, t.attempt, t.max_attempts, t.retry_initial_ms, t.retry_max_ms,
         t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.ttl_ms, t.priority,
         t.concurrency_key, t.concurrency_limit, t.unique_key, t.run_at, null::timestamptz, t.worker_id, $6,
         t.job_id, t.step_index, t.created_at, t.started_at, $7, t.attempt_budget, t.cancel_requested_at,
         t.trace_context, t.rate_key, t.rate_limited, t.group_key, t.start_by, t.snoozes, t.debounce_key,
         t.batch_id
$$;

-- One batch: how many members it has (`total`, fixed when it is created, in
-- the transaction that inserts them), how many ended each way, the first
-- 1,000 members that failed (in the order their ends were counted; `failed`
-- is the exact count), the user's `context`, and the callback to enqueue once they all
-- ended: its queue and its task's columns (`callback`: the options of
-- db/queries/tasksEnqueue.sql by their TypeScript names, the delay and the
-- start deadline counted from the batch's end). `completed_at` is set by the
-- statement that counts the last end, which enqueues the callback in the
-- same transaction (`callback_task_id`). Deleted by retention `ttl_ms` after
-- it completed; never before.
create table {{schema}}.batch (
  id bigint generated always as identity primary key,
  queue_name text not null,
  total integer not null check (total >= 0),
  succeeded integer not null default 0,
  failed integer not null default 0,
  cancelled integer not null default 0,
  failed_ids bigint[] not null default '{}',
  context jsonb,
  callback_queue text,
  callback jsonb,
  callback_task_id bigint,
  ttl_ms bigint not null,
  created_at timestamptz not null default now(),
  completed_at timestamptz
);

-- The sweep finds completed batches past their ttl here; live ones are not in it.
create index batch_expiry_idx on {{schema}}.batch ({{schema}}.task_expires_at(completed_at, ttl_ms))
  where completed_at is not null;

-- Counts ends of members of batch `batch_of` (from one statement: the
-- succeeded, failed and cancelled, and the ids of those that failed), and
-- when they are the last, completes the batch and enqueues its callback, in
-- the caller's transaction. Exactly once: the UPDATE takes the batch's row
-- lock, and under READ COMMITTED a second counter waiting on it re-reads the
-- row its holder committed (counts, completed_at) before it adds its own,
-- so the ends add up whatever the interleaving, and only the statement that
-- takes the count to `total` sees completed_at go from null to set. A batch
-- already complete (or deleted) counts nothing more. Called at commit by
-- batch_ends_count (below), and by db/queries/batchesSeal.sql for a batch
-- of no members; never for a task outside a batch.
create function {{schema}}.batch_count(batch_of bigint, ended_ok integer, ended_failed integer,
                                       ended_cancelled integer, failed_of bigint[])
  returns void language plpgsql volatile as $$
declare
  b {{schema}}.batch;
begin
  update {{schema}}.batch x
     set succeeded = x.succeeded + ended_ok,
         failed = x.failed + ended_failed,
         cancelled = x.cancelled + ended_cancelled,
         -- Capped: a batch of 100,000 failing members must not rewrite an
         -- ever longer array at each end. `failed` keeps the exact count.
         failed_ids = case when failed_of is null or cardinality(x.failed_ids) >= 1000 then x.failed_ids
                           else (x.failed_ids || failed_of)[1:1000] end,
         completed_at = case when x.succeeded + x.failed + x.cancelled + ended_ok + ended_failed + ended_cancelled
                                  >= x.total then now() end
   where x.id = batch_of and x.completed_at is null
  returning x.* into b;
  if not found or b.completed_at is null then
    return;
  end if;
  perform {{schema}}.batch_callback(b);
end;
$$;

-- Enqueues the callback of batch `b`, which has just completed: a task of
-- `b.callback_queue` whose input is the batch's completion (the shape of
-- src/batches/batchCompletion.ts). Its options were resolved when the
-- batch was created; its delay and start deadline count from now. Paused
-- queues and caps (`maxPending`) do not stop it: it is written, as a retry
-- is. No unique key: enqueueBatch refuses callbacks with one, so that this
-- insert cannot fail on a key and with it the end of the last member.
create function {{schema}}.batch_callback(b {{schema}}.batch) returns void language plpgsql volatile as $$
declare
  c jsonb := b.callback;
  callback_id bigint;
begin
  if c is null then
    return;
  end if;
  insert into {{schema}}.task (
    queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
    timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit,
    rate_key, run_at, group_key, start_by, trace_context)
  values (
    b.callback_queue,
    jsonb_build_object(
      'batchId', b.id::text, 'queue', b.queue_name, 'total', b.total, 'succeeded', b.succeeded,
      'failed', b.failed, 'cancelled', b.cancelled,
      'failedIds', (select coalesce(jsonb_agg(f.id::text order by f.n), '[]'::jsonb)
                      from unnest(b.failed_ids) with ordinality f(id, n)),
      'context', b.context),
    (c ->> 'maxAttempts')::integer, (c ->> 'retryInitialMs')::integer, (c ->> 'retryMaxMs')::integer,
    (c ->> 'retryCoefficient')::float8, (c ->> 'retryJitter')::float8, (c ->> 'timeoutMs')::integer,
    (c ->> 'heartbeatMs')::integer, (c ->> 'ttlMs')::bigint, (c ->> 'priority')::integer,
    c ->> 'concurrencyKey', (c ->> 'concurrencyLimit')::integer, c ->> 'rateLimitKey',
    now() + coalesce((c ->> 'delayMs')::float8, 0) * interval '1 millisecond', c ->> 'groupKey',
    now() + (c ->> 'startWithinMs')::float8 * interval '1 millisecond',
    case when jsonb_typeof(c -> 'trace') = 'object' then c -> 'trace' end)
  returning id into callback_id;
  update {{schema}}.batch x set callback_task_id = callback_id where x.id = b.id;
end;
$$;

-- Ends waiting for their transaction's commit to be counted: one row per
-- batch per statement that ended members of it (see batch_members_finished).
-- Each row lives within the transaction that wrote it (deleted by the
-- count at its commit, rolled back with it), so the table holds nothing
-- between transactions: unlogged, as a crash loses nothing it needs.
create unlogged table {{schema}}.batch_end (
  batch_id bigint not null,
  succeeded integer not null,
  failed integer not null,
  cancelled integer not null,
  failed_ids bigint[]
);

-- Records ends of members of batch `batch_of`, counted when the transaction
-- commits (batch_ends_count). For the statements that end tasks without
-- task_finished (ops' delete of live tasks).
create function {{schema}}.batch_ended(batch_of bigint, ended_ok integer, ended_failed integer,
                                       ended_cancelled integer, failed_of bigint[])
  returns void language sql volatile as $$
  insert into {{schema}}.batch_end (batch_id, succeeded, failed, cancelled, failed_ids)
  values (batch_of, ended_ok, ended_failed, ended_cancelled, failed_of)
$$;

-- Ends of members, gathered per statement: every end of a task is an insert
-- into task_finished (0014: the hot statements' DELETE + INSERT, and
-- task_finish for the ends written as an UPDATE: cancels by ops or the API,
-- the reaper's final failures, deadline cancels, a cancel that wins over a
-- retry), dead-lettering among them. One row of batch_end per batch per
-- statement: a batch of 10,000 ended 10 at a time writes 1,000.
--
-- The cost for statements that end no member (a queue without batches):
-- this call, once per statement, and one pass over the statement's rows
-- (the transition table task_finished_inserted captures already: one
-- capture is shared by the triggers of a table and event).
create function {{schema}}.batch_members_finished() returns trigger language plpgsql as $$
begin
  if not exists (select from finished f where f.batch_id is not null) then
    return null;
  end if;
  insert into {{schema}}.batch_end (batch_id, succeeded, failed, cancelled, failed_ids)
  select f.batch_id,
         (count(*) filter (where f.state = 'succeeded'))::integer,
         (count(*) filter (where f.state = 'failed'))::integer,
         (count(*) filter (where f.state = 'cancelled'))::integer,
         array_agg(f.id order by f.id) filter (where f.state = 'failed')
    from finished f
   where f.batch_id is not null
   group by f.batch_id;
  return null;
end;
$$;

create trigger batch_members_finished after insert on {{schema}}.task_finished
  referencing new table as finished
  for each statement execute function {{schema}}.batch_members_finished();

-- Counts the transaction's ends at its commit (a deferred constraint
-- trigger: it fires once per batch_end row, the first call does the work
-- for all of them and the others find nothing), batch after batch in id
-- order. Why at the commit, not in the statement that ended the members:
-- a statement's rows are locked first and its row triggers (task_finish,
-- one insert each) run after, in the order of the rows, so two cancels
-- ending members of batches a and b would take the batches' locks in
-- opposite orders and deadlock; and a transaction of several statements
-- would hold a batch's lock while it waits for a member's row another
-- holds. At the commit, every row lock is held already and batches are
-- taken in one order, so transactions wait for each other on the batch
-- row only (briefly: from this to their commit), and never in a cycle.
-- Only rows of this transaction are visible (the others' are uncommitted,
-- or deleted by their commit).
create function {{schema}}.batch_ends_count() returns trigger language plpgsql as $$
declare
  e record;
begin
  for e in
    with taken as (delete from {{schema}}.batch_end returning *)
    select t.batch_id, sum(t.succeeded)::integer as ok, sum(t.failed)::integer as failed,
           sum(t.cancelled)::integer as cancelled,
           (select array_agg(x order by x) from taken u cross join unnest(u.failed_ids) x
             where u.batch_id = t.batch_id) as failed_ids
      from taken t
     group by t.batch_id
     order by t.batch_id
  loop
    perform {{schema}}.batch_count(e.batch_id, e.ok, e.failed, e.cancelled, e.failed_ids);
  end loop;
  return null;
end;
$$;

create constraint trigger batch_ends_count after insert on {{schema}}.batch_end
  deferrable initially deferred
  for each row execute function {{schema}}.batch_ends_count();
