-- The claim rule for grouped tasks (fair tenants): `grouped`, the tasks a
-- claim takes while the queue has grouped pending tasks, locked, each with
-- its `turn` (its place in the batch); none otherwise. Takes :queue and
-- :limit. The groups take turns, each its weight in tasks per turn,
-- resuming after the group that took the last one: function
-- task_group_claim (db/migrations/0016_groups.sql) does it, and
-- docs/design/fair-groups.md argues it. For a queue without groups the
-- function probes one empty index and returns: that, and planning a
-- function scan, is what the default path pays (a gate written here, as a
-- probe of the task table, cost more to plan at each claim than that).
-- Nothing in claim mode 2 (its own rate budget spent and no keyed task
-- pending, or paused; `mode`, db/fragments/claimCandidates.sql): claimUpdate
-- starts a task of mode 2 as unlimited, so grouped tasks claimed then went
-- past the rate limit. A one-time filter: the function is not called then.
--
-- In claim mode 1 with no keyed task pending, every task starts under the
-- queue's own budget: the claim takes no more turns than that budget has
-- room for now. The turns store where they stop before the starts are
-- admitted, so turns past the room were spent on tasks the budget refused,
-- and the group first in the rotation took every start. The room, read as
-- the rule reads it (db/migrations/0015_rate_limits.sql): of the budget's
-- last `limit` seqs, those that do not exist or started a period ago or
-- more; they are the oldest (starts are in seq order), so the first :limit
-- of them are all it reads. A hint: task_rate_admit decides.
grouped as (
  select c.id, c.concurrency_key, c.concurrency_limit, c.priority, c.run_at, c.turn
    from {{schema}}.task_group_claim(:queue, (
      select case
               when m.claim_mode <> 1
                    or exists (select from {{schema}}.task k
                                where k.queue_name = :queue and k.state = 'pending' and k.rate_key is not null)
               then :limit::integer
               else (select count(*)::integer
                       from {{schema}}.queue q
                      cross join lateral (
                        select coalesce((select b.last_seq from {{schema}}.rate_budget b
                                          where b.queue_name = q.name and b.rate_key = ''), 0) as last_seq) b
                      cross join lateral generate_series(b.last_seq - q.rate_limit + 1,
                                                         least(b.last_seq, b.last_seq - q.rate_limit + :limit::integer)) s(seq)
                       left join {{schema}}.rate_start r
                         on r.queue_name = q.name and r.rate_key = '' and r.seq = s.seq
                      where q.name = :queue
                        and (r.seq is null or r.started_at <= now() - q.rate_period_ms * interval '1 millisecond'))
             end
        from mode m)) c
   where (select m.claim_mode from mode m) < 2
)
