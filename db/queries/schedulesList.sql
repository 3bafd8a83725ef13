-- Every schedule, by queue, with its latest run: the latest tick enqueued
-- and the task it made (the newest schedule_tick row of the queue: the
-- primary key's range, one row).
select s.queue_name as queue, s.cron, s.time_zone as "timeZone", s.input,
       s.last_tick_at as "lastRunAt", k.task_id::text as "lastTaskId"
  from {{schema}}.schedule s
  left join lateral (
    select k.task_id from {{schema}}.schedule_tick k
     where k.queue_name = s.queue_name
     order by k.tick_at desc limit 1
  ) k on true
 order by s.queue_name
