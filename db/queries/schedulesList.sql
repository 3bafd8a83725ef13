-- Every schedule, by queue.
select queue_name as queue, cron, time_zone as "timeZone", input
  from {{schema}}.schedule order by queue_name
