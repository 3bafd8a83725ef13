-- Debounce, throttle and caps (issue 21, parts 3 and 5; docs/flow-control.md,
-- docs/design/debounce-caps.md).

-- Columns (kept together for the merge with other migrations that add some).
-- debounce_key: the key a task was enqueued with under `debounce` (its
-- unique_key stays null: the unique index on live tasks would refuse a new
-- pending task while a debounced one runs, and a debounce must not lose the
-- latest input). Nullable without default: adding it rewrites no rows.
alter table {{schema}}.task add column debounce_key text;
alter table {{schema}}.task_finished add column debounce_key text;

-- The pending task a debounced enqueue pushes back: one probe. Partial:
-- tasks without the option never enter it.
create index task_debounce_idx on {{schema}}.task (queue_name, debounce_key)
  where debounce_key is not null and state = 'pending';

-- The view of every task (0014) lists the columns it was made with: made again, it has debounce_key too.
create or replace view {{schema}}.task_all as
  select * from {{schema}}.task
  union all
  select * from {{schema}}.task_finished;

-- A live row as it reads once ended (0014), with the columns of 0015, 0016 and 0017 and debounce_key appended.
create or replace function {{schema}}.task_ended(t {{schema}}.task, state {{schema}}.task_state, output jsonb, error text,
                                     queue_name text, dlq_from text, finished_at timestamptz)
  returns setof {{schema}}.task_finished language sql stable as $$
  select t.id, $5, $2, t.input, $3, $4, t.attempt, t.max_attempts, t.retry_initial_ms, t.retry_max_ms,
         t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.ttl_ms, t.priority,
         t.concurrency_key, t.concurrency_limit, t.unique_key, t.run_at, null::timestamptz, t.worker_id, $6,
         t.job_id, t.step_index, t.created_at, t.started_at, $7, t.attempt_budget, t.cancel_requested_at,
         t.trace_context, t.rate_key, t.rate_limited, t.group_key, t.start_by, t.snoozes, t.debounce_key
$$;

-- Throttle (`uniqueFor`): a unique key stays claimed until `until`, counted
-- from the enqueue that created its task, even after that task ended. The
-- row of a key is re-used when its window is over: one row per key ever
-- throttled (the retention sweep does not touch it; a key is small).
-- task_id: the task that opened the window (it may have ended, and been
-- deleted by its ttl since).
create table {{schema}}.unique_window (
  queue_name text not null,
  unique_key text not null,
  task_id bigint not null,
  until timestamptz not null,
  primary key (queue_name, unique_key)
);

-- Serialises the debounced enqueues of one key (the lock is held to the
-- enqueue's commit), so that each one sees the pending task the previous
-- one wrote: apart from the other lock ids (another namespace in the hashed text).
create function {{schema}}.debounce_lock_id(queue_name text, debounce_key text)
  returns bigint language sql immutable parallel safe
  as $$ select hashtextextended(jsonb_build_array('debounce', '{{schema}}', queue_name, debounce_key)::text, 3) $$;

-- Caps (`maxPending`). The definition's cap is sent by each enqueue of a
-- capped queue; an operator's setting (max_pending_set_at not null) wins
-- over it until cleared (max_pending null then: no cap).
alter table {{schema}}.queue add column max_pending integer, add column max_pending_set_at timestamptz,
  add constraint queue_max_pending_check check (max_pending is null or max_pending >= 0);

-- Checks the cap of queue `queue_of` after an enqueue inserted its tasks
-- (in the same transaction, not committed yet): the cap in force (the
-- operator's, else `defined_cap`), and the queue's pending tasks counted
-- under the queue's cap lock, held to commit, with a fresh snapshot
-- (volatile), so it counts every enqueue committed before, and this one's
-- own rows (`adding` of them): no two enqueues are admitted on the same
-- room. The count stops at cap + adding rows: its cost is bounded by the
-- cap, not the backlog, and it is exact whenever the queue had room before.
-- No cap in force: no lock, no count.
create function {{schema}}.queue_pending_check(queue_of text, defined_cap integer, adding integer)
  returns table (cap integer, pending integer) language plpgsql volatile as $$
declare
  set_at timestamptz;
  operator_cap integer;
begin
  select q.max_pending_set_at, q.max_pending into set_at, operator_cap from {{schema}}.queue q where q.name = queue_of;
  cap := case when set_at is null then defined_cap else operator_cap end;
  if cap is null then
    return next;
    return;
  end if;
  perform pg_advisory_xact_lock(hashtextextended(jsonb_build_array('cap', '{{schema}}', queue_of)::text, 3));
  select count(*)::integer into pending from (
    select 1 from {{schema}}.task t where t.queue_name = queue_of and t.state = 'pending' limit cap + adding) p;
  return next;
end;
$$;
