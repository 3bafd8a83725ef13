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
-- room for now (group_claim_slots, db/migrations/0019_group_claim_slots.sql).
-- The turns store where they stop before the starts are admitted, so turns
-- past the room were spent on tasks the budget refused, and the group first
-- in the rotation took every start. Other modes pay no call for it.
grouped as (
  select c.id, c.concurrency_key, c.concurrency_limit, c.priority, c.run_at, c.turn
    from {{schema}}.task_group_claim(:queue, (
      select case when m.claim_mode = 1 then {{schema}}.group_claim_slots(:queue, :limit::integer)
                  else :limit::integer end
        from mode m)) c
   where (select m.claim_mode from mode m) < 2
)
