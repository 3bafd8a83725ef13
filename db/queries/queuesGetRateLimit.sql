-- :queue, :keys. A queue's rate limit for ops: the setting in force (null:
-- none), the definition's as the last worker to start recorded it, when an
-- operator's setting overrides it, and the budgets' use now: starts of the
-- queue's own budget in the current window (the period up to now) and when
-- it next allows one if spent; then the keyed budgets with a start in the
-- window (how many, and the :keys most recently used, each with its use).
-- A budget keeps at most its limit of start times, so each count reads at
-- most that many index entries. No row: the queue has never been recorded.
select q.rate_limit as "limit", q.rate_period_ms as "periodMs",
       q.rate_defined_limit as "definedLimit", q.rate_defined_period_ms as "definedPeriodMs",
       q.rate_set_at as "setAt",
       (select count(*) from {{schema}}.rate_start s
         where s.queue_name = q.name and s.rate_key = '' and s.started_at > w.since)::integer as used,
       (select b.free_at from {{schema}}.rate_budget b
         where b.queue_name = q.name and b.rate_key = '' and b.free_at > now()) as "nextStartAt",
       (select count(*) from {{schema}}.rate_budget b
         where b.queue_name = q.name and b.rate_key <> '' and b.last_at > w.since)::integer as "activeKeys",
       coalesce((select json_agg(k) from (
         select b.rate_key as key,
                (select count(*) from {{schema}}.rate_start s
                  where s.queue_name = b.queue_name and s.rate_key = b.rate_key and s.started_at > w.since)::integer as used,
                case when b.free_at > now() then b.free_at end as "nextStartAt"
           from {{schema}}.rate_budget b
          where b.queue_name = q.name and b.rate_key <> '' and b.last_at > w.since
          order by b.last_at desc
          limit :keys) k), '[]'::json) as keys
  from {{schema}}.queue q
 cross join lateral (select now() - q.rate_period_ms * interval '1 millisecond' as since) w
 where q.name = :queue
