-- :queue, :group. The group's weight goes back to the default, 1.
delete from {{schema}}.group_weight where queue_name = :queue and group_key = :group
