-- :queue, :group, :weight. Sets a group's weight: it takes :weight tasks per
-- turn where a group of weight 1 takes one (db/migrations/0016_groups.sql).
-- Read by the next claim of any process.
insert into {{schema}}.group_weight (queue_name, group_key, weight) values (:queue, :group, :weight)
on conflict (queue_name, group_key) do update set weight = excluded.weight, updated_at = now()
