-- The claim rule as one function, task_claim, planned once per session
-- (docs/design/claim-function.md). tasksClaim and tasksCompleteAndClaim
-- call it; until this migration they carried the statement themselves
-- (spliced from db/fragments/claimCandidates.sql, claimGroups.sql,
-- claimMode.sql and claimUpdate.sql, now gone).
--
-- Why a function: the statement's `limit` is a parameter, which a generic
-- plan costs as a tenth of the queue's rows, so PostgreSQL never chose the
-- generic plan of the prepared statement and planned the claim again at
-- every run (0.39 ms of planning for 0.28 ms of work). PL/pgSQL keeps its
-- statements' plans for the session, and the SET clauses below, in force
-- only while the function runs (and restored on return), make that plan
-- the generic one, planned once, and keep JIT off: on a large backlog the
-- generic plan's cost passes jit_above_cost, and compiling took 34 ms for a
-- claim that runs in well under one. A session-wide setting would have
-- done it too, but for every statement of the session (the dashboard's
-- filtered counts went 20x slower under a forced generic plan), and behind
-- PgBouncer for other clients too.
--
-- Its statements read a snapshot of their own (volatile), taken when the
-- function runs: in tasksCompleteAndClaim, after the statement's
-- completions, which it sees as ended. A concurrency key those completions
-- freed can be taken by this claim (before: by the next one); the exact
-- check is still the task_key_admit trigger, under the key's lock, which
-- saw them ended before too, so a key never runs past its limit. The
-- grouped half (task_group_claim) always read them so.
--
-- To change the claim rule: a new migration that replaces this function
-- (create or replace, same signature and columns), never an edit of this
-- file (migrations are checksummed and forward-only).
--
-- The rule, in the order of its CTEs:
-- * `mode`: what a claim of the queue may take (queue_claim_mode, 0015):
--   0 any due task (no rate limit), 1 what its rate limit lets start, 2
--   nothing (paused, or its own budget spent and no task with a
--   rateLimitKey pending). Computed once (a CTE read more than once is
--   materialized) and carried by each row for the update.
-- * `grouped`: while the queue has grouped pending tasks, the groups' turns
--   choose the tasks (task_group_claim, 0016; docs/design/fair-groups.md),
--   each with its `turn`, its place in the batch. For a queue without
--   groups the function probes one empty index and returns. Not called in
--   mode 2: the update starts a task of mode 2 as unlimited, so grouped
--   tasks claimed then went past the rate limit. In mode 1 with no keyed
--   task pending, every task starts under the queue's own budget, so the
--   claim takes no more turns than it has room for now
--   (group_claim_slots, 0019).
-- * `plain`: the tasks without a group, while `grouped` took none (the
--   tasks without a group are one of the groups then). Candidates in
--   priority order, locked with SKIP LOCKED so concurrent claims never wait
--   on each other. Keys already at their limit are left out so they cannot
--   crowd out others: a hint, counted in the statement's snapshot, the rule
--   of db/fragments/keyHasRoom.sql (the task_key_admit trigger of 0011
--   makes the exact check under the key's lock: change the three together).
--   So are tasks whose rate key's budget is spent (rate_has_room, 0015, as
--   db/fragments/rateKeyHasRoom.sql; task_rate_admit decides) and tasks
--   past their start deadline (start_by: the reaper ends them cancelled),
--   which costs a null check for tasks without one.
-- * `ranked`: each candidate numbered within its key (rank: at most its
--   limit of the batch are claimed) and within the batch (batch_rank: the
--   groups' turns, then priority), which the rows return for the worker's
--   order.
-- * the update: keyed tasks past the first `claim_startable` of the batch
--   are claimed unstarted (started_at null: they take their key's slot
--   when the worker starts them, tasksStart), and so are those of a
--   rate-limited queue (a start counts against the budget when the task
--   really starts; task_rate_admit admits it, or not, at either moment).
--
-- Committed without waiting for the WAL flush (the first predicate of
-- `plain`, as db/fragments/commitAsync.sql: a claim lost in a server crash
-- leaves the task pending, which at-least-once delivery allows; see
-- docs/reliability.md). Set local, it outlives the function's own SET
-- clauses, which restore only the settings they name.
create function {{schema}}.task_claim(claim_queue text, claim_limit integer, claim_worker text,
                                      claim_startable integer)
  returns table (id text, input jsonb, attempt integer, max_attempts integer, retry_initial_ms integer,
                 retry_max_ms integer, retry_coefficient float8, retry_jitter float8, timeout_ms integer,
                 heartbeat_ms integer, concurrency_key text, concurrency_limit integer, job_id uuid,
                 step_index integer, priority integer, dlq_from text, attempt_budget integer, admitted boolean,
                 rate_limited boolean, snoozes integer, wait_ms float8, trace_context jsonb, batch_rank bigint)
  language plpgsql volatile rows 100
  -- For the function's statements (and the triggers they fire) only:
  -- restored on return. See above.
  set plan_cache_mode = force_generic_plan set jit = off as $$
#variable_conflict use_column
begin
  return query
  with mode as (
    select {{schema}}.queue_claim_mode(claim_queue) as claim_mode
  ), grouped as (
    select c.id, c.concurrency_key, c.concurrency_limit, c.priority, c.run_at, c.turn
      from {{schema}}.task_group_claim(claim_queue, (
        select case when m.claim_mode = 1 then {{schema}}.group_claim_slots(claim_queue, claim_limit)
                    else claim_limit end
          from mode m)) c
     where (select m.claim_mode from mode m) < 2
  ), plain as (
    select t.id, t.concurrency_key, t.concurrency_limit, t.priority, t.run_at, null::bigint as turn
      from {{schema}}.task t
     where (select set_config('synchronous_commit', 'off', true)) = 'off'
       and t.queue_name = claim_queue and t.state = 'pending' and t.group_key is null and t.run_at <= now()
       and (select m.claim_mode from mode m) < 2
       and not exists (select from grouped)
       and (t.concurrency_key is null or
            (select count(*) from (
               select 1 from {{schema}}.task r
                where r.queue_name = t.queue_name and r.concurrency_key = t.concurrency_key
                  and r.state = 'in_progress' and r.started_at is not null
                limit t.concurrency_limit) running) < t.concurrency_limit)
       and (t.rate_key is null or {{schema}}.rate_has_room(claim_queue, t.rate_key))
       and (t.start_by is null or t.start_by > now())
     order by t.priority desc, t.run_at, t.id
     limit claim_limit
     for update skip locked
  ), locked as (
    select * from plain
    union all
    select * from grouped
  ), ranked as (
    select l.id, l.concurrency_key, l.concurrency_limit, (select m.claim_mode from mode m) as claim_mode,
           row_number() over (partition by l.concurrency_key order by l.turn, l.priority desc, l.run_at, l.id) as rank,
           row_number() over (order by l.turn, l.priority desc, l.run_at, l.id) as batch_rank
      from locked l
  )
  update {{schema}}.task t
     set state = 'in_progress',
         attempt = t.attempt + 1,
         worker_id = claim_worker,
         started_at = case when (r.concurrency_key is null and r.claim_mode = 0) or r.batch_rank <= claim_startable
                           then now() end,
         rate_limited = r.claim_mode = 1,
         lease_expires_at = now() + t.heartbeat_ms * interval '1 millisecond',
         -- A deadline is for the first start only: met now, so a retry or a
         -- snooze runs whenever it falls due.
         start_by = null
    from ranked r
   where t.id = r.id and (r.concurrency_key is null or r.rank <= r.concurrency_limit)
     -- Grouped candidates (task_group_claim) are not filtered by deadline:
     -- one past it is locked but left pending here, for the reaper to cancel.
     and (t.start_by is null or t.start_by > now())
     -- Keeps the generic plan (unknown limit) on the primary key instead
     -- of hashing the whole table.
     and t.id = any(array(select l.id from locked l))
  returning t.id::text, t.input, t.attempt, t.max_attempts, t.retry_initial_ms, t.retry_max_ms,
            t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.concurrency_key,
            t.concurrency_limit, t.job_id, t.step_index, t.priority, t.dlq_from, t.attempt_budget,
            t.started_at is not null, t.rate_limited, t.snoozes,
            -- For lifecycle events and tracing: the wait since due (database
            -- clock), the producer's trace.
            (extract(epoch from now() - t.run_at) * 1000)::float8, t.trace_context,
            r.batch_rank;
end;
$$;
