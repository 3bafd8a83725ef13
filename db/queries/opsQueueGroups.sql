-- :queue, :bound the exact-count bound, :limit. The groups of a queue (fair
-- tenants, docs/flow-control.md), in key order, at most :limit: those with
-- pending tasks (a loose scan of task_group_claim_idx, one probe per
-- group), with running tasks, or with a weight set. Pending counts are
-- exact up to :bound (a range of the group's index entries), then "more";
-- running ones read the queue's in-progress tasks (task_queue_state_idx),
-- which the workers' concurrency bounds.
with recursive pending_keys(key) as (
  (select t.group_key from {{schema}}.task t
    where t.queue_name = :queue and t.state = 'pending' and t.group_key is not null
    order by t.group_key limit 1)
  union all
  select (select t.group_key from {{schema}}.task t
           where t.queue_name = :queue and t.state = 'pending' and t.group_key > k.key
           order by t.group_key limit 1)
    from pending_keys k
   where k.key is not null
), running as (
  select t.group_key as key, count(*) as n from {{schema}}.task t
   where t.queue_name = :queue and t.state = 'in_progress' and t.group_key is not null
   group by t.group_key
), keys as (
  select k.key from pending_keys k where k.key is not null
  union
  select r.key from running r
  union
  select w.group_key from {{schema}}.group_weight w where w.queue_name = :queue
)
select k.key as "group",
       (select count(*) from (
          select 1 from {{schema}}.task t
           where t.queue_name = :queue and t.state = 'pending' and t.group_key = k.key
           order by t.group_key limit :bound + 1) b)::float8 as pending,
       coalesce(r.n, 0)::float8 as running,
       coalesce(w.weight, 1) as weight,
       w.weight is not null as "weightSet",
       q.group_turn is not distinct from k.key as "lastTurn"
  from (select keys.key from keys order by keys.key limit :limit) k
  left join running r on r.key = k.key
  left join {{schema}}.group_weight w on w.queue_name = :queue and w.group_key = k.key
  left join {{schema}}.queue q on q.name = :queue
 order by k.key
