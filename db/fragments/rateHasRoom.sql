-- The rate rule as a hint, for task `t` of queue :queue: true unless the
-- queue has a limit and `t`'s budget (its rateLimitKey's, or the queue's
-- own) is spent now. Read in the statement's snapshot, it keeps spent
-- budgets from crowding out others; the exact check is the task_rate_admit
-- trigger, under the budget's lock (db/migrations/0015_rate_limits.sql).
-- The own budget is read once per statement (rateOwnSpent); a key's, by two
-- primary-key probes per row, as a scalar subquery (an EXISTS here was
-- planned as a hash of every spent key of the queue).
(not {{> rateOn}}
 or case when t.rate_key is null then not {{> rateOwnSpent}}
         else not coalesce(
           (select s.started_at
              from {{schema}}.rate_budget b
              join {{schema}}.rate_start s
                on s.queue_name = b.queue_name and s.rate_key = b.rate_key
               and s.seq = b.last_seq - (select q.rate_limit from {{schema}}.queue q where q.name = :queue) + 1
             where b.queue_name = :queue and b.rate_key = t.rate_key)
           > now() - (select q.rate_period_ms from {{schema}}.queue q where q.name = :queue) * interval '1 millisecond',
           false) end)
