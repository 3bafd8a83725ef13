-- :queue: the schedule as a scheduler reads it.
select queue_name as queue, cron, time_zone as "timeZone", input, catch_up as "catchUp", version::text,
       updated_at as "updatedAt", last_tick_at as "lastTickAt"
  from {{schema}}.schedule where queue_name = :queue
