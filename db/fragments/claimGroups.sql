-- The claim rule for grouped tasks (fair tenants): `grouped`, the tasks a
-- claim takes while the queue has grouped pending tasks, locked, each with
-- its `turn` (its place in the batch). Takes :queue and :limit. The groups
-- take turns, each its weight in tasks per turn, resuming after the group
-- that took the last one: function task_group_claim
-- (db/migrations/0016_groups.sql) does it, and docs/design/fair-groups.md
-- argues it. `groups_pending` is one probe of task_group_claim_idx, which
-- is empty unless some task has a group: all the default path pays.
groups_pending as (
  -- In the index's order, so that it is planned as one probe of it.
  select (select g.group_key from {{schema}}.task g
           where g.queue_name = :queue and g.state = 'pending' and g.group_key is not null
           order by g.group_key limit 1) is not null as yes
), grouped as (
  select c.id, c.concurrency_key, c.concurrency_limit, c.priority, c.run_at,
         (select g.rate_key from {{schema}}.task g where g.id = c.id) as rate_key, c.turn
    from {{schema}}.task_group_claim(:queue, :limit) c
   where {{> commitAsync}}
     and (select p.yes from groups_pending p)
     and not exists (select 1 from {{schema}}.queue q where q.name = :queue and q.paused_at is not null)
)
