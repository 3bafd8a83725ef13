-- task_claim (0022) with a short path for a queue that uses no fair groups
-- (issue 21's default-path target; docs/design/claim-function.md, "The
-- short path"). Same signature, columns and rule; only where the pieces run
-- changed:
--
-- * The first statement reads the queue's row (its pause and rate limit),
--   makes task_group_claim's probe (one probe of task_group_claim_idx)
--   and sets the asynchronous commit. A paused queue returns at once; a
--   queue without a rate limit is mode 0 without calling queue_claim_mode;
--   only a rate-limited queue calls it (the modes are 0015's: 0 any due
--   task, 1 what its rate limit lets start, 2 nothing), and its functions
--   read the queue's row again, as before.
-- * With no grouped task pending, the claim is one statement of the shape
--   the claim had before issue 21: candidates, ranks, update; no `mode` or
--   `grouped` CTE, no union, no function scan. With some, the statement of
--   0022, calling task_group_turns_claim directly (the probe is made).
--
-- Why: 0022's one statement carried the `mode` and `grouped` CTEs (nested
-- PL/pgSQL calls, and a union whose estimate of 100 grouped rows turned the
-- update into a hash join) in every claim, also of a queue with one task,
-- where it cost 0.27 ms against 0.20 ms for the claim before issue 21;
-- this path 0.23 ms (pgbench -M prepared, a claim of the one task of a
-- queue in a rolled-back transaction; docs/design/claim-function.md).
--
-- The two statements differ only in the grouped half; the shared rule
-- (candidates' predicates, ranks, update, returned columns) is written
-- twice, here only, and a change to it changes both (then a new migration
-- replaces this function: migrations are checksummed and forward-only).
--
-- Snapshots: each statement takes its own (volatile), and the path is
-- chosen from the first statement's, a moment before the claim's (0022
-- chose within the claim's own, though its grouped half had the same split
-- between task_group_claim's probe and task_group_turns_claim). A change
-- committed in that moment is seen by the next claim, as if it had come a
-- moment later: a grouped task enqueued then waits one claim; a pause or a
-- rate limit set then applies from the next claim (this one claims as if
-- it came first); grouped tasks all claimed or cancelled then leave the
-- grouped half to claim the tasks without a group as its '' group, as
-- 0022 could in the same gap.
create or replace function {{schema}}.task_claim(claim_queue text, claim_limit integer, claim_worker text,
                                                 claim_startable integer)
  returns table (id text, input jsonb, attempt integer, max_attempts integer, retry_initial_ms integer,
                 retry_max_ms integer, retry_coefficient float8, retry_jitter float8, timeout_ms integer,
                 heartbeat_ms integer, concurrency_key text, concurrency_limit integer, job_id uuid,
                 step_index integer, priority integer, dlq_from text, attempt_budget integer, admitted boolean,
                 rate_limited boolean, snoozes integer, wait_ms float8, trace_context jsonb, batch_rank bigint)
  language plpgsql volatile rows 100
  -- For the function's statements (and the triggers they fire) only:
  -- restored on return (0022 says why).
  set plan_cache_mode = force_generic_plan set jit = off as $$
#variable_conflict use_column
declare
  queue_paused timestamptz;
  queue_rate_limit integer;
  claim_mode integer := 0;
  group_slots integer;
  has_groups boolean;
  commit_setting text;
begin
  -- One statement reads what decides the path: the queue's row (written
  -- by the first enqueue or worker of the queue; no row reads as neither
  -- paused nor limited) and task_group_claim's probe, in the index's order
  -- (0016 says why). Each statement of a PL/pgSQL function costs a call,
  -- so the three are one. It also commits the transaction
  -- without waiting for the WAL flush (db/fragments/commitAsync.sql): a
  -- claim lost in a server crash leaves the task pending. Set local, it
  -- outlives the SET clauses above, which restore only what they name
  -- (commit_setting only receives its result). The probe is a scalar
  -- subquery, not EXISTS, which would drop its order.
  select c.setting, q.paused_at, q.rate_limit,
         (select true from {{schema}}.task t
           where t.queue_name = claim_queue and t.state = 'pending' and t.group_key is not null
           order by t.group_key limit 1) is not null
    into commit_setting, queue_paused, queue_rate_limit, has_groups
    from (select set_config('synchronous_commit', 'off', true) as setting) c
    left join {{schema}}.queue q on q.name = claim_queue;
  if queue_paused is not null then
    return;
  end if;
  if queue_rate_limit is not null then
    claim_mode := {{schema}}.queue_claim_mode(claim_queue);
    if claim_mode = 2 then
      return;
    end if;
  end if;
  if not has_groups then
    return query
    with plain as (
      select t.id, t.concurrency_key, t.concurrency_limit, t.priority, t.run_at
        from {{schema}}.task t
       where t.queue_name = claim_queue and t.state = 'pending' and t.group_key is null and t.run_at <= now()
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
    ), ranked as (
      select l.id, l.concurrency_key, l.concurrency_limit,
             row_number() over (partition by l.concurrency_key order by l.priority desc, l.run_at, l.id) as rank,
             row_number() over (order by l.priority desc, l.run_at, l.id) as batch_rank
        from plain l
    )
    update {{schema}}.task t
       set state = 'in_progress',
           attempt = t.attempt + 1,
           worker_id = claim_worker,
           started_at = case when (r.concurrency_key is null and claim_mode = 0) or r.batch_rank <= claim_startable
                             then now() end,
           rate_limited = claim_mode = 1,
           lease_expires_at = now() + t.heartbeat_ms * interval '1 millisecond',
           -- A deadline is for the first start only: met now, so a retry or
           -- a snooze runs whenever it falls due.
           start_by = null
      from ranked r
     where t.id = r.id and (r.concurrency_key is null or r.rank <= r.concurrency_limit)
       and (t.start_by is null or t.start_by > now())
       -- Keeps the generic plan (unknown limit) on the primary key instead
       -- of hashing the whole table.
       and t.id = any(array(select l.id from plain l))
    returning t.id::text, t.input, t.attempt, t.max_attempts, t.retry_initial_ms, t.retry_max_ms,
              t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.concurrency_key,
              t.concurrency_limit, t.job_id, t.step_index, t.priority, t.dlq_from, t.attempt_budget,
              t.started_at is not null, t.rate_limited, t.snoozes,
              (extract(epoch from now() - t.run_at) * 1000)::float8, t.trace_context,
              r.batch_rank;
    return;
  end if;
  -- Grouped pending tasks: the groups' turns choose (0022's statement). In
  -- mode 1 with no keyed task pending, no more turns than the queue's own
  -- budget has room for now (group_claim_slots, 0019).
  group_slots := case when claim_mode = 1 then {{schema}}.group_claim_slots(claim_queue, claim_limit)
                      else claim_limit end;
  return query
  with grouped as (
    select c.id, c.concurrency_key, c.concurrency_limit, c.priority, c.run_at, c.turn
      from {{schema}}.task_group_turns_claim(claim_queue, group_slots) c
  ), plain as (
    select t.id, t.concurrency_key, t.concurrency_limit, t.priority, t.run_at, null::bigint as turn
      from {{schema}}.task t
     where t.queue_name = claim_queue and t.state = 'pending' and t.group_key is null and t.run_at <= now()
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
    select l.id, l.concurrency_key, l.concurrency_limit,
           row_number() over (partition by l.concurrency_key order by l.turn, l.priority desc, l.run_at, l.id) as rank,
           row_number() over (order by l.turn, l.priority desc, l.run_at, l.id) as batch_rank
      from locked l
  )
  update {{schema}}.task t
     set state = 'in_progress',
         attempt = t.attempt + 1,
         worker_id = claim_worker,
         started_at = case when (r.concurrency_key is null and claim_mode = 0) or r.batch_rank <= claim_startable
                           then now() end,
         rate_limited = claim_mode = 1,
         lease_expires_at = now() + t.heartbeat_ms * interval '1 millisecond',
         start_by = null
    from ranked r
   where t.id = r.id and (r.concurrency_key is null or r.rank <= r.concurrency_limit)
     -- Grouped candidates are not filtered by deadline: one past it is
     -- locked but left pending here, for the reaper to cancel.
     and (t.start_by is null or t.start_by > now())
     and t.id = any(array(select l.id from locked l))
  returning t.id::text, t.input, t.attempt, t.max_attempts, t.retry_initial_ms, t.retry_max_ms,
            t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.concurrency_key,
            t.concurrency_limit, t.job_id, t.step_index, t.priority, t.dlq_from, t.attempt_budget,
            t.started_at is not null, t.rate_limited, t.snoozes,
            (extract(epoch from now() - t.run_at) * 1000)::float8, t.trace_context,
            r.batch_rank;
end;
$$;
