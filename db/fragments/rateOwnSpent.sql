-- Whether the own budget of queue :queue (its tasks without a rateLimitKey)
-- is spent now: its limit-th most recent start is still inside the period.
-- Uncorrelated: once per statement. False while the queue has no limit (no
-- seq matches a null limit). The rule of task_rate_admit
-- (db/migrations/0015_rate_limits.sql), read here in the statement's
-- snapshot: change both together.
coalesce((select s.started_at
            from {{schema}}.rate_budget b
            join {{schema}}.rate_start s
              on s.queue_name = b.queue_name and s.rate_key = b.rate_key
             and s.seq = b.last_seq - (select q.rate_limit from {{schema}}.queue q where q.name = :queue) + 1
           where b.queue_name = :queue and b.rate_key = '')
         > now() - (select q.rate_period_ms from {{schema}}.queue q where q.name = :queue) * interval '1 millisecond',
         false)
