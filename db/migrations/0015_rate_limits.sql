-- Rate limits (issue 21, docs/design/rate-limits.md): in any window of a
-- queue's period, at most its limit of attempts start, across every process,
-- per budget: the queue's own (tasks without a rateLimitKey) or one per key.

-- Columns added to task, and to task_finished in the same order (its rows
-- are task's rows moved over). Both nullable without default: adding them
-- rewrites no rows. rate_key: the task's rateLimitKey (null: the queue's
-- own budget). rate_limited: its last claim found the queue rate-limited,
-- so its start goes through task_rate_admit (a flag the trigger's WHEN
-- clause reads in C: tasks of other queues never call it).
alter table {{schema}}.task add column rate_key text, add column rate_limited boolean;
alter table {{schema}}.task_finished add column rate_key text, add column rate_limited boolean;

-- A view's * was expanded when it was made: task_all gains the two columns.
create or replace view {{schema}}.task_all as
  select * from {{schema}}.task
  union all
  select * from {{schema}}.task_finished;

-- task_ended lists task_finished's columns in order: the two new ones appended.
create or replace function {{schema}}.task_ended(t {{schema}}.task, state {{schema}}.task_state, output jsonb, error text,
                                                queue_name text, dlq_from text, finished_at timestamptz)
  returns setof {{schema}}.task_finished language sql stable as $$
  select t.id, $5, $2, t.input, $3, $4, t.attempt, t.max_attempts, t.retry_initial_ms, t.retry_max_ms,
         t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.ttl_ms, t.priority,
         t.concurrency_key, t.concurrency_limit, t.unique_key, t.run_at, null::timestamptz, t.worker_id, $6,
         t.job_id, t.step_index, t.created_at, t.started_at, $7, t.attempt_budget, t.cancel_requested_at,
         t.trace_context, t.rate_key, t.rate_limited
$$;

-- The queue's setting. rate_limit and rate_period_ms are the one in force,
-- what claims read (null: no limit); the definition's, as the last worker
-- to start wrote it, is kept beside it, so clearing an operator's setting
-- (rate_set_at not null) goes back to it. Both or neither are set.
alter table {{schema}}.queue
  add column rate_limit integer,
  add column rate_period_ms integer,
  add column rate_defined_limit integer,
  add column rate_defined_period_ms integer,
  add column rate_set_at timestamptz,
  add constraint queue_rate_check check (
    (rate_limit is null) = (rate_period_ms is null) and (rate_limit is null or (rate_limit > 0 and rate_period_ms > 0))
    and (rate_defined_limit is null) = (rate_defined_period_ms is null));

-- The start times of each budget, numbered: seq n is its n-th admitted
-- start. The last `limit` of them are kept (an admission deletes older
-- ones), which is all the rule reads: a start is allowed at t when the
-- limit-th most recent one (seq last_seq - limit + 1) started at or before
-- t - period, or does not exist. One index probe, whatever the limit.
create table {{schema}}.rate_start (
  queue_name text not null,
  rate_key text not null,
  seq bigint not null,
  started_at timestamptz not null,
  primary key (queue_name, rate_key, seq)
);

-- One row per budget ('' is the queue's own): its last seq, when it last
-- admitted a start, and when its next start is allowed (null: now, it has
-- fewer than its limit in the window). free_at is what a worker that found
-- the budget spent waits for (tasksNextDue reads the earliest, off the
-- index); the admission itself never trusts it (it reads rate_start).
create table {{schema}}.rate_budget (
  queue_name text not null,
  rate_key text not null,
  last_seq bigint not null,
  last_at timestamptz not null,
  free_at timestamptz,
  primary key (queue_name, rate_key)
);
create index rate_budget_free_idx on {{schema}}.rate_budget (queue_name, free_at) where free_at is not null;

-- Pending tasks with a rateLimitKey, per queue: lets a claim tell at once
-- whether a queue whose own budget is spent has anything else to start
-- (claimCandidates.sql). Partial: tasks without a key never enter it.
create index task_rate_key_idx on {{schema}}.task (queue_name, rate_key)
  where rate_key is not null and state = 'pending';

-- A budget's lock: apart from task_key_lock_id's (another namespace in the
-- hashed text), so a concurrency key and a rate key of the same name do not
-- skip each other.
create function {{schema}}.rate_lock_id(queue_name text, rate_key text)
  returns bigint language sql immutable parallel safe
  as $$ select hashtextextended(jsonb_build_array('rate', '{{schema}}', queue_name, rate_key)::text, 3) $$;

-- The rule as a hint, for a claim's candidates and the next-due read:
-- whether budget `budget_key` ('' the queue's own) of queue `queue_of` has
-- room now, read in the calling statement's snapshot (stable). The exact
-- check is task_rate_admit's, under the budget's lock: change both
-- together. A function: a claim plans one call here rather than its
-- joins, and makes it only for a task with a rateLimitKey.
create function {{schema}}.rate_has_room(queue_of text, budget_key text)
  returns boolean language plpgsql stable as $$
declare
  cap integer;
  period interval;
  oldest timestamptz;
begin
  select q.rate_limit, q.rate_period_ms * interval '1 millisecond' into cap, period
    from {{schema}}.queue q where q.name = queue_of;
  if cap is null then
    return true;
  end if;
  select s.started_at into oldest
    from {{schema}}.rate_budget b
    join {{schema}}.rate_start s
      on s.queue_name = b.queue_name and s.rate_key = b.rate_key and s.seq = b.last_seq - cap + 1
   where b.queue_name = queue_of and b.rate_key = budget_key;
  return oldest is null or oldest <= now() - period;
end;
$$;

-- What a claim of queue `queue_of` may take, read once per claim statement
-- in place of its look-up of the queue's pause (db/fragments/claimMode.sql):
-- 0 any due task (no rate limit); 1 what its rate limit lets start; 2
-- nothing: paused, or its own budget spent and no task with a
-- rateLimitKey pending (task_rate_key_idx, one probe), so a spent queue's
-- backlog is not walked row by row to find nothing. A function: a claim is
-- planned at every run (a custom plan), and one call is cheaper to plan
-- than the look-ups it makes; plpgsql keeps their plans.
create function {{schema}}.queue_claim_mode(queue_of text)
  returns integer language plpgsql stable as $$
declare
  paused timestamptz;
  cap integer;
begin
  select q.paused_at, q.rate_limit into paused, cap from {{schema}}.queue q where q.name = queue_of;
  if paused is not null then
    return 2;
  end if;
  if cap is null then
    return 0;
  end if;
  if {{schema}}.rate_has_room(queue_of, '')
     or exists (select 1 from {{schema}}.task k
                 where k.queue_name = queue_of and k.state = 'pending' and k.rate_key is not null) then
    return 1;
  end if;
  return 2;
end;
$$;

-- Admits a start under the queue's rate limit, exactly, whatever the
-- number of claiming processes: the budget's try-lock (as task_key_admit
-- takes a key's: never waits, so no two claims deadlock whatever order
-- their batches take budgets in; not acquired, the task stays pending, no
-- attempt spent) is held to commit, and each query here reads a fresh
-- snapshot (volatile), so the next admission of the budget sees this one's
-- start. The start time is taken here, under the lock, from the clock
-- (clock_timestamp(), not the transaction's start): each admission of a
-- budget is later than the previous one's commit, so a budget's starts are
-- in seq order and the one probe above is the whole sliding-window check.
-- The task's started_at is set to that time, so the recorded starts are the
-- ones the rule counted. The limit is read here, not taken from the claim:
-- an operator's change applies to the next admission.
create function {{schema}}.task_rate_admit() returns trigger language plpgsql volatile as $$
declare
  budget_key text := coalesce(new.rate_key, '');
  cap integer;
  period interval;
  prior bigint;
  oldest timestamptz;
  next_free timestamptz;
  started timestamptz;
begin
  if not pg_try_advisory_xact_lock({{schema}}.rate_lock_id(new.queue_name, budget_key)) then
    return null;
  end if;
  select q.rate_limit, q.rate_period_ms * interval '1 millisecond' into cap, period
    from {{schema}}.queue q where q.name = new.queue_name;
  -- Turned off since the claim: starts now, uncounted.
  if cap is null then
    return new;
  end if;
  started := clock_timestamp();
  select b.last_seq into prior from {{schema}}.rate_budget b
   where b.queue_name = new.queue_name and b.rate_key = budget_key;
  prior := coalesce(prior, 0);
  select s.started_at into oldest from {{schema}}.rate_start s
   where s.queue_name = new.queue_name and s.rate_key = budget_key and s.seq = prior - cap + 1;
  if oldest > started - period then
    -- Spent: its next start is allowed when that one leaves the window.
    update {{schema}}.rate_budget b set free_at = oldest + period
     where b.queue_name = new.queue_name and b.rate_key = budget_key and b.free_at is distinct from oldest + period;
    return null;
  end if;
  insert into {{schema}}.rate_start (queue_name, rate_key, seq, started_at)
  values (new.queue_name, budget_key, prior + 1, started);
  -- After this start, the limit-th most recent is seq prior + 2 - cap.
  select s.started_at + period into next_free from {{schema}}.rate_start s
   where s.queue_name = new.queue_name and s.rate_key = budget_key and s.seq = prior + 2 - cap;
  insert into {{schema}}.rate_budget as b (queue_name, rate_key, last_seq, last_at, free_at)
  values (new.queue_name, budget_key, prior + 1, started, next_free)
  on conflict (queue_name, rate_key) do update
    set last_seq = excluded.last_seq, last_at = excluded.last_at, free_at = excluded.free_at;
  -- Older starts are never read again: the ones before the limit-th most
  -- recent all started at or before `started - period` (each admission
  -- checked its own), so a limit raised later rightly counts them as
  -- outside the window.
  delete from {{schema}}.rate_start s
   where s.queue_name = new.queue_name and s.rate_key = budget_key and s.seq <= prior + 1 - cap;
  new.started_at := started;
  return new;
end;
$$;

-- Fires when a task of a rate-limited queue starts: claimed and started in
-- one statement, or started later (tasksStart sets started_at on a
-- prefetched task). After task_key_admit (triggers fire in name order), so
-- a task its concurrency key refuses spends no budget. Every other claim
-- and start is filtered out by the WHEN clause, evaluated in C.
create trigger task_rate_admit before update of state, started_at on {{schema}}.task
  for each row
  when (new.rate_limited and new.state = 'in_progress' and new.started_at is not null
        and (old.state <> 'in_progress' or old.started_at is null))
  execute function {{schema}}.task_rate_admit();

-- The setting in force changed (an operator's, or the definition's while no
-- operator's is set): each budget's next allowed start is recomputed with
-- it, so workers waiting for one wake on time. It takes no budget's lock:
-- an admission racing this statement may write its free_at with the old
-- setting. The admission rule reads only rate_start, so that never lets a
-- start through; a worker waiting on a stale free_at falls back to its poll.
create function {{schema}}.rate_refresh(queue_of text, cap integer, period_ms integer)
  returns integer language sql volatile as $$
  with refreshed as (
    update {{schema}}.rate_budget b
       set free_at = case when cap is null then null else (
             select s.started_at + period_ms * interval '1 millisecond' from {{schema}}.rate_start s
              where s.queue_name = b.queue_name and s.rate_key = b.rate_key
                and s.seq = b.last_seq - cap + 1) end
     where b.queue_name = queue_of
    returning 1
  )
  select count(*)::integer from refreshed
$$;
