-- $1 queue names: each with its dead-letter queue, pause and the age of its
-- oldest due pending task (task_oldest_due reads the claim index).
select q.name as queue, r.dlq_name as dlq, r.paused_at as "pausedAt",
       extract(epoch from now() - {{schema}}.task_oldest_due(q.name))::float8 as "oldestPendingAgeSeconds"
  from unnest($1::text[]) q(name)
  left join {{schema}}.queue r on r.name = q.name
 order by q.name
