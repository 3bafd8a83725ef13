-- $1 seconds: processes whose last heartbeat is at most this old.
select id, host, pid, queues, started_at as "startedAt", heartbeat_at as "heartbeatAt",
       extract(epoch from now() - heartbeat_at)::float8 as "heartbeatAgeSeconds"
  from {{schema}}.worker_process
 where heartbeat_at >= now() - $1::int * interval '1 second'
 order by host, pid, id
