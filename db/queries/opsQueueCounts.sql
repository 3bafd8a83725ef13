-- :bound the exact-count bound. Every queue that has tasks (a loose scan of
-- task_queue_state_idx, one index probe per queue) with its count per
-- state. Most queues are small: one index-only range of at most :bound + 1
-- entries counts all their states at once. A queue with more gets a count
-- per state bounded at :bound + 1 and, where that passed :bound, the planner's
-- estimate. Never a count(*) over a whole state of a large queue, and never
-- a plan per queue: at 10,000 queues, estimating every (queue, state) first
-- (5 EXPLAINs a queue) took seconds.
with recursive names(name) as (
  (select t.queue_name from {{schema}}.task_all t order by t.queue_name limit 1)
  union all
  select (select t.queue_name from {{schema}}.task_all t where t.queue_name > n.name order by t.queue_name limit 1)
    from names n where n.name is not null
), scanned as materialized (
  select n.name as queue, s.state, s.count, s.total
    from names n cross join lateral (
      select b.state, count(*) as count, sum(count(*)) over () as total
        from (
          -- Ordered by the index key so that only task_queue_state_idx
          -- serves it: a scan of anything else for a rare pair reads the table.
          select t.state from {{schema}}.task_all t where t.queue_name = n.name
           order by t.queue_name, t.state, t.id limit :bound + 1
        ) b
       group by b.state
    ) s
   where n.name is not null
), large as materialized (
  select l.queue, s.state, (
    select count(*) from (
      select 1 from {{schema}}.task_all t where t.queue_name = l.queue and t.state = s.state
       order by t.queue_name, t.state, t.id limit :bound + 1
    ) bounded
  ) as exact
    from (select distinct queue from scanned where total > :bound) l
   cross join unnest(enum_range(null::{{schema}}.task_state)) s(state)
)
select queue, state, count::float8 as estimate, count::float8 as exact from scanned where total <= :bound
union all
select queue, state,
       (case when exact > :bound then {{schema}}.task_count_estimate(queue, state) else exact end)::float8,
       exact::float8
  from large where exact > 0
