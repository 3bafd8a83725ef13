-- :id, :liveSeconds, :bound. The facts ops.explain reasons from about one
-- task (src/ops/explain.ts): the row wherever it lives, its queue's pause,
-- the started tasks holding its concurrency key, the due pending tasks the
-- claim takes before a due one (as the claim counts them: keys at their
-- limit skipped, keyHasRoom; bounded at :bound + 1, on the claim index), the
-- live worker processes working its queue, and the queue's recent
-- throughput (tasks ended per second over the last five minutes of
-- queue_stat) for an estimate. All on the database clock (`now`).
select x.id::text, x.queue_name as queue, x.state, x.attempt, x.max_attempts as "maxAttempts",
       x.priority, x.run_at as "runAt", x.started_at as "startedAt", x.finished_at as "finishedAt",
       x.concurrency_key as "concurrencyKey", x.concurrency_limit as "concurrencyLimit",
       x.worker_id as "workerId", x.lease_expires_at as "leaseExpiresAt",
       x.cancel_requested_at as "cancelRequestedAt", left(x.error, 200) as error, now() as now,
       x.debounce_key as "debounceKey",
       q.paused_at as "pausedAt",
       case when x.state = 'pending' and x.concurrency_key is not null then
         array(select r.id::text from {{schema}}.task r
                where r.queue_name = x.queue_name and r.concurrency_key = x.concurrency_key
                  and r.state = 'in_progress' and r.started_at is not null
                order by r.started_at, r.id limit 20)
       end as "keyHolders",
       case when x.state = 'pending' and x.concurrency_key is not null then
         (select min(r.lease_expires_at) from {{schema}}.task r
           where r.queue_name = x.queue_name and r.concurrency_key = x.concurrency_key
             and r.state = 'in_progress' and r.started_at is not null)
       end as "keyLeaseExpiresAt",
       -- Only once due: what is ahead of a task not yet due will have changed by then.
       case when x.state = 'pending' and x.run_at <= now() then
         (select count(*) from (
            select 1 from {{schema}}.task t
             where t.queue_name = x.queue_name and t.state = 'pending' and t.run_at <= now()
               and (t.priority > x.priority
                    or (t.priority = x.priority and (t.run_at, t.id) < (x.run_at, x.id)))
               and (t.concurrency_key is null or {{> keyHasRoom}})
             limit :bound + 1) ahead)::float8
       end as ahead,
       (select count(*) from {{schema}}.worker_process w
         where w.heartbeat_at >= now() - :liveSeconds::int * interval '1 second'
           and w.queues @> jsonb_build_array(jsonb_build_object('queue', x.queue_name)))::float8 as "liveWorkers",
       (select max(w.heartbeat_at) from {{schema}}.worker_process w
         where w.queues @> jsonb_build_array(jsonb_build_object('queue', x.queue_name))) as "lastWorkerSeenAt",
       (select coalesce(sum(s.succeeded + s.failed + s.retried + s.cancelled), 0)::float8 / 300
          from {{schema}}.queue_stat s
         where s.queue_name = x.queue_name and s.bucket >= now() - interval '5 minutes') as "perSecond"
  from {{schema}}.task_all x
  left join {{schema}}.queue q on q.name = x.queue_name
 where x.id = :id
