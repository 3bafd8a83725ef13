-- Every queue name that has tasks: a loose scan of task_queue_state_idx,
-- one index probe per queue rather than a scan of the table.
with recursive names(name) as (
  (select t.queue_name from {{schema}}.task_all t order by t.queue_name limit 1)
  union all
  select (select t.queue_name from {{schema}}.task_all t where t.queue_name > n.name order by t.queue_name limit 1)
    from names n where n.name is not null
)
select name from names where name is not null
