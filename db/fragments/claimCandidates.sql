-- The claim rule, first half: the CTEs up to `locked`, `budgets` and `ranked`, for
-- tasksClaim and tasksCompleteAndClaim (whose comments explain it). Takes
-- :queue and :limit. Candidates in priority order, locked with SKIP LOCKED
-- so concurrent claims never wait on each other; keys at their limit left
-- out (keyHasRoom), and so are tasks whose rate budget is spent
-- (rateHasRoom); a paused queue, or one whose own budget is spent with no
-- keyed budget to try (rateCandidates), yields nothing. `budgets` locks the
-- rate budgets of the batch (rate-limited queues only). `ranked` numbers each
-- candidate within its key (rank) and within the batch (batch_rank).
-- While the queue has grouped pending tasks, the groups' turns (claimGroups)
-- choose the tasks, and `plain` yields nothing once they took any (the
-- tasks without a group are one of the groups then).
-- Grouped tasks skip the rate hints below; the exact rate check (trigger
-- task_rate_admit) holds for them as for any task.
{{> claimGroups}},
plain as (
  select id, concurrency_key, concurrency_limit, priority, run_at, rate_key, null::bigint as turn
    from {{schema}}.task t
   where {{> commitAsync}}
     and queue_name = :queue and state = 'pending' and group_key is null and run_at <= now()
     and not exists (select 1 from {{schema}}.queue q where q.name = :queue and q.paused_at is not null)
     and not exists (select from grouped)
     and (concurrency_key is null or {{> keyHasRoom}})
     and {{> rateCandidates}}
     and {{> rateHasRoom}}
   order by priority desc, run_at, id
   limit :limit
   for update skip locked
), locked as (
  select * from plain
  union all
  select * from grouped
), budgets as (
  -- A rate-limited queue's budgets this batch may start, locked, waiting, in
  -- key order (rate_lock_budgets, db/migrations/0015_rate_limits.sql), before
  -- claimUpdate starts any task. Nothing for a queue without a limit.
  select {{schema}}.rate_lock_budgets(:queue, array(select coalesce(l.rate_key, '') from locked l)) as taken
   where {{> rateOn}}
), ranked as (
  select id, concurrency_key, concurrency_limit,
         row_number() over (partition by concurrency_key order by turn, priority desc, run_at, id) as rank,
         row_number() over (order by turn, priority desc, run_at, id) as batch_rank
    from locked
)
