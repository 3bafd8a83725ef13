-- The claim rule, first half: the CTEs up to `locked` and `ranked`, for
-- tasksClaim and tasksCompleteAndClaim (whose comments explain it). Takes
-- :queue and :limit. Candidates in priority order, locked with SKIP LOCKED
-- so concurrent claims never wait on each other; keys at their limit left
-- out (keyHasRoom), and so are tasks whose rate key's budget is spent
-- (rateKeyHasRoom); a paused queue, or one whose own rate budget is spent
-- with no keyed task to try, yields nothing (claimMode, computed once in
-- `mode`, which each row carries for claimUpdate). `ranked` numbers each
-- candidate within its key (rank) and within the batch (batch_rank).
-- While the queue has grouped pending tasks, the groups' turns (claimGroups)
-- choose the tasks, and `plain` yields nothing once they took any (the
-- tasks without a group are one of the groups then). Grouped tasks skip the
-- rate hints; the exact rate check (trigger task_rate_admit) holds for them
-- as for any task. A task past its start deadline (start_by) is never a
-- candidate (the reaper ends it cancelled); the test costs nothing more
-- than a null check for tasks without one.
-- The queue's claim mode, computed once and read at each place (a CTE
-- referenced more than once is materialized): written inline, it was one
-- call of queue_claim_mode each.
mode as (
  select {{> claimMode}} as claim_mode
),
{{> claimGroups}},
plain as (
  select id, concurrency_key, concurrency_limit, priority, run_at, null::bigint as turn
    from {{schema}}.task t
   where {{> commitAsync}}
     and queue_name = :queue and state = 'pending' and group_key is null and run_at <= now()
     and (select m.claim_mode from mode m) < 2
     and not exists (select from grouped)
     and (concurrency_key is null or {{> keyHasRoom}})
     and {{> rateKeyHasRoom}}
     and (start_by is null or start_by > now())
   order by priority desc, run_at, id
   limit :limit
   for update skip locked
), locked as (
  select * from plain
  union all
  select * from grouped
), ranked as (
  select id, concurrency_key, concurrency_limit, (select m.claim_mode from mode m) as claim_mode,
         row_number() over (partition by concurrency_key order by turn, priority desc, run_at, id) as rank,
         row_number() over (order by turn, priority desc, run_at, id) as batch_rank
    from locked
)
