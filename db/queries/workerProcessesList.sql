-- :liveSeconds seconds: processes whose last heartbeat is at most this old, each with
-- the tasks it runs now (at most 100, oldest claim first): running tasks
-- carry their client's registry id as worker_id, and task_lease_idx holds
-- only running tasks, so this reads no more than those.
select w.id, w.host, w.pid, w.queues, w.started_at as "startedAt", w.heartbeat_at as "heartbeatAt",
       extract(epoch from now() - w.heartbeat_at)::float8 as "heartbeatAgeSeconds",
       coalesce((
         select json_agg(json_build_object(
                  'id', r.id::text, 'queue', r.queue_name, 'attempt', r.attempt,
                  'jobId', r.job_id, 'stepIndex', r.step_index,
                  'startedAt', to_char(r.started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                order by r.started_at, r.id)
           from (select t.id, t.queue_name, t.attempt, t.job_id, t.step_index, t.started_at
                   from {{schema}}.task t
                  where t.state = 'in_progress' and t.worker_id = w.id
                  order by t.started_at, t.id
                  limit 100) r
       ), '[]'::json) as running
  from {{schema}}.worker_process w
 where w.heartbeat_at >= now() - :liveSeconds::int * interval '1 second'
 order by w.host, w.pid, w.id
