-- $1 queue names that have tasks, $2 those of them with pending tasks. Each
-- of these and every registered queue, with its dead-letter queue, pause
-- and the age of its oldest due pending task (task_oldest_due reads the
-- claim index; asked only of queues with pending tasks, so thousands of
-- idle queues cost nothing).
select q.name as queue, r.dlq_name as dlq, r.paused_at as "pausedAt",
       case when p.name is not null then
         extract(epoch from now() - {{schema}}.task_oldest_due(q.name))::float8
       end as "oldestPendingAgeSeconds"
  from (select unnest($1::text[]) union select name from {{schema}}.queue) q(name)
  left join {{schema}}.queue r on r.name = q.name
  left join unnest($2::text[]) p(name) on p.name = q.name
 order by q.name
