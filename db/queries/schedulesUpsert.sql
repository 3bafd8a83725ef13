-- $1 queue, $2 cron expression, $3 time zone, $4 encoded input, $5 catch-up.
-- Every write takes a new version, so running schedulers notice it even
-- when the values are the same as before.
insert into {{schema}}.schedule (queue_name, cron, time_zone, input, catch_up)
values ($1, $2, $3, $4, $5)
on conflict (queue_name) do update
   set cron = excluded.cron, time_zone = excluded.time_zone, input = excluded.input,
       catch_up = excluded.catch_up, version = nextval('{{schema}}.schedule_version'), updated_at = now()
returning version::text
