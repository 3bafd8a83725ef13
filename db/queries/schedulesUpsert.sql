-- :queue, :cron expression, :timeZone, :input encoded input, :catchUp catch-up.
-- Every write takes a new version, so running schedulers notice it even
-- when the values are the same as before.
insert into {{schema}}.schedule (queue_name, cron, time_zone, input, catch_up)
values (:queue, :cron, :timeZone, :input, :catchUp)
on conflict (queue_name) do update
   set cron = excluded.cron, time_zone = excluded.time_zone, input = excluded.input,
       catch_up = excluded.catch_up, version = nextval('{{schema}}.schedule_version'), updated_at = now()
returning version::text
