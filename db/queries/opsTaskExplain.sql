-- :id, :liveSeconds, :bound. The facts ops.explain reasons from about one
-- task (src/ops/explain.ts): the row wherever it lives, its queue's pause,
-- the started tasks holding its concurrency key, the due pending tasks the
-- claim takes before a due one (as the claim counts them: keys at their
-- limit skipped, keyHasRoom; bounded at :bound + 1, on the claim index), the
-- live worker processes working its queue, its rate budget (0015) and its
-- group's place in the rotation (0016), the queue's recent throughput
-- (tasks ended per second over the last five minutes of queue_stat) for an
-- estimate, its start deadline, and until when its last snooze (task_event,
-- read only for a task that snoozed) put it off. All on the database clock
-- (`now`).
select x.id::text, x.queue_name as queue, x.state, x.attempt, x.max_attempts as "maxAttempts",
       x.priority, x.run_at as "runAt", x.started_at as "startedAt", x.finished_at as "finishedAt",
       x.concurrency_key as "concurrencyKey", x.concurrency_limit as "concurrencyLimit",
       x.worker_id as "workerId", x.lease_expires_at as "leaseExpiresAt",
       x.cancel_requested_at as "cancelRequestedAt", left(x.error, 200) as error, now() as now,
       x.debounce_key as "debounceKey",
       q.paused_at as "pausedAt", x.start_by as "startBy", x.snoozes,
       case when x.state = 'pending' and x.snoozes > 0 then
         (select (e.details->>'until')::timestamptz from {{schema}}.task_event e
           where e.task_id = x.id and e.kind = 'snoozed' order by e.id desc limit 1)
       end as "snoozedUntil",
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
       -- As the claim counts them: keys at their limit skipped. Within its group only (tasks without a group are one group of their
       -- own): the rotation over groups is counted apart, in groupsAhead.
       case when x.state = 'pending' and x.run_at <= now() and x.group_key is null then
         (select count(*) from (
            select 1 from {{schema}}.task t
             where t.queue_name = x.queue_name and t.state = 'pending' and t.group_key is null and t.run_at <= now()
               and (t.priority > x.priority
                    or (t.priority = x.priority and (t.run_at, t.id) < (x.run_at, x.id)))
               and (t.concurrency_key is null or {{> keyHasRoom}})
               -- As the claim leaves out keyed tasks whose budget is spent (rateKeyHasRoom).
               and (t.rate_key is null or {{schema}}.rate_has_room(t.queue_name, t.rate_key))
             limit :bound + 1) ahead)::float8
            when x.state = 'pending' and x.run_at <= now() then
         (select count(*) from (
            select 1 from {{schema}}.task t
             where t.queue_name = x.queue_name and t.state = 'pending' and t.group_key = x.group_key
               and t.run_at <= now()
               and (t.priority > x.priority
                    or (t.priority = x.priority and (t.run_at, t.id) < (x.run_at, x.id)))
               and (t.concurrency_key is null or {{> keyHasRoom}})
             limit :bound + 1) ahead)::float8
       end as ahead,
       -- The rate budget it starts under (its rateLimitKey's, or the queue's
       -- own): when the limit-th most recent start leaves the window (the
       -- admission's rule, task_rate_admit), and the starts in the window.
       x.rate_key as "rateKey", q.rate_limit as "rateLimit", q.rate_period_ms as "ratePeriodMs",
       case when x.state = 'pending' and q.rate_limit is not null then
         (select s.started_at + q.rate_period_ms * interval '1 millisecond'
            from {{schema}}.rate_budget b
            join {{schema}}.rate_start s
              on s.queue_name = b.queue_name and s.rate_key = b.rate_key and s.seq = b.last_seq - q.rate_limit + 1
           where b.queue_name = x.queue_name and b.rate_key = coalesce(x.rate_key, ''))
       end as "rateFreeAt",
       case when x.state = 'pending' and q.rate_limit is not null then
         (select count(*) from {{schema}}.rate_start s
           where s.queue_name = x.queue_name and s.rate_key = coalesce(x.rate_key, '')
             and s.started_at > now() - q.rate_period_ms * interval '1 millisecond')::float8
       end as "rateUsed",
       -- Its group, its weight, and how many groups with pending tasks take
       -- their turn before it (group_turns' order: the rest of a turn left
       -- unfinished first, then the groups after the last turn's by key,
       -- wrapping round; '' stands for the tasks without a group): a walk of
       -- the distinct groups off task_group_claim_idx from the last turn's to
       -- this one, one probe each, bounded at :bound + 1.
       x.group_key as "group",
       case when x.group_key is not null then
         coalesce((select w.weight from {{schema}}.group_weight w
                    where w.queue_name = x.queue_name and w.group_key = x.group_key), 1)::float8
       end as "groupWeight",
       case when x.state <> 'pending' or x.group_key is null or x.run_at > now() then null
            -- Its own turn, left unfinished: it goes on first.
            when q.group_turn = x.group_key
                 and coalesce(q.group_turn_used, 0) < coalesce((select g.weight from {{schema}}.group_weight g
                                                                where g.queue_name = x.queue_name
                                                                  and g.group_key = x.group_key), 1) then 0
            else
         (with recursive walk(key, wrapped, n) as (
            select coalesce(f.after_turn, f.first), f.after_turn is null, 1
              from (select (select t.group_key from {{schema}}.task t
                             where t.queue_name = x.queue_name and t.state = 'pending' and t.group_key is not null
                               and t.group_key > coalesce(q.group_turn, '')
                             order by t.group_key limit 1) as after_turn,
                           (select t.group_key from {{schema}}.task t
                             where t.queue_name = x.queue_name and t.state = 'pending' and t.group_key is not null
                             order by t.group_key limit 1) as first) f
            union all
            select n.key, w.wrapped or n.wraps, w.n + 1
              from walk w
              cross join lateral (
                -- The first group is read only to wrap round, once.
                select coalesce(a.after, case when not w.wrapped then
                         (select t.group_key from {{schema}}.task t
                           where t.queue_name = x.queue_name and t.state = 'pending' and t.group_key is not null
                           order by t.group_key limit 1) end) as key,
                       a.after is null as wraps
                  from (select (select t.group_key from {{schema}}.task t
                                 where t.queue_name = x.queue_name and t.state = 'pending' and t.group_key is not null
                                   and t.group_key > w.key
                                 order by t.group_key limit 1) as after) a) n
             where w.key <> x.group_key and w.n <= :bound and n.key is not null
          )
          select count(*) filter (where w.key <> x.group_key)
                 -- The tasks without a group take their turn as '', first in key order.
                 + case when (q.group_turn is null or x.group_key <= q.group_turn)
                             and exists (select from {{schema}}.task t
                                          where t.queue_name = x.queue_name and t.state = 'pending' and t.group_key is null)
                        then 1 else 0 end
                 -- A turn left unfinished resumes before any other.
                 + case when q.group_turn is not null and q.group_turn <> x.group_key
                             and coalesce(q.group_turn_used, 0) < coalesce((select g.weight from {{schema}}.group_weight g
                                                                where g.queue_name = x.queue_name
                                                                  and g.group_key = q.group_turn), 1)
                             and exists (select from {{schema}}.task t
                                          where t.queue_name = x.queue_name and t.state = 'pending'
                                            and t.group_key is not distinct from nullif(q.group_turn, ''))
                        then 1 else 0 end
            from walk w)::float8
       end as "groupsAhead",
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
