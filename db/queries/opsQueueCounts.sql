-- $1 the exact-count bound. Every queue (those with tasks, by a loose scan
-- of task_queue_state_idx, and those registered) with, per state, the
-- planner's estimate and, where that estimate is at most $1, an exact count
-- bounded at $1 + 1 rows (an index-only range scan). Never a count(*) over
-- a whole state of a large queue.
with recursive names(name) as (
  (select t.queue_name from {{schema}}.task t order by t.queue_name limit 1)
  union all
  select (select t.queue_name from {{schema}}.task t where t.queue_name > n.name order by t.queue_name limit 1)
    from names n where n.name is not null
), queues(name) as (
  select name from names where name is not null
  union
  select name from {{schema}}.queue
), estimates as (
  select q.name, s.state, {{schema}}.task_count_estimate(q.name, s.state) as estimate
    from queues q cross join unnest(enum_range(null::{{schema}}.task_state)) s(state)
)
select e.name as queue, e.state, e.estimate::float8 as estimate,
       case when e.estimate <= $1 then (
         select count(*) from (
           -- Ordered by the index key so that only task_queue_state_idx
           -- serves it: a scan of anything else for a rare pair reads the table.
           select 1 from {{schema}}.task t where t.queue_name = e.name and t.state = e.state
            order by t.queue_name, t.state, t.id limit $1 + 1
         ) bounded
       ) end::float8 as exact
  from estimates e
