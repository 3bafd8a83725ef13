-- :queue, :limit, :periodMs (both null: the definition sets no limit),
-- :channel the ready channel. A worker records its definition's rate limit
-- when it starts, before its first claim. It is in force unless an
-- operator's setting is (rate_set_at not null); then it is kept for when
-- that one is cleared. When the setting in force changes, each budget's next
-- allowed start is recomputed (rate_refresh) and the queue's workers in
-- every process wake: a looser limit may let held-back tasks start now.
with before as (
  select q.rate_limit, q.rate_period_ms from {{schema}}.queue q where q.name = :queue
), written as (
  insert into {{schema}}.queue as q (name, dlq_name, rate_limit, rate_period_ms, rate_defined_limit, rate_defined_period_ms)
  select :queue, null, :limit::integer, :periodMs::integer, :limit::integer, :periodMs::integer
  -- Nothing to record (the usual start: the same definition as before, or
  -- none and none stored): no write, so no wait on a queue row another
  -- transaction holds (an operator's pause, a grouped claim's rotation).
   where not exists (select 1 from {{schema}}.queue e
                      where e.name = :queue and e.rate_defined_limit is not distinct from :limit::integer
                        and e.rate_defined_period_ms is not distinct from :periodMs::integer)
  on conflict (name) do update
    set rate_defined_limit = excluded.rate_defined_limit,
        rate_defined_period_ms = excluded.rate_defined_period_ms,
        rate_limit = case when q.rate_set_at is null then excluded.rate_defined_limit else q.rate_limit end,
        rate_period_ms = case when q.rate_set_at is null then excluded.rate_defined_period_ms else q.rate_period_ms end
  returning q.name, q.rate_limit, q.rate_period_ms
), changed as (
  select w.* from written w left join before b on true
   where w.rate_limit is distinct from b.rate_limit or w.rate_period_ms is distinct from b.rate_period_ms
)
select (select count(*) from changed)::integer as changed,
       (select {{schema}}.rate_refresh(c.name, c.rate_limit, c.rate_period_ms) from changed c) as refreshed,
       (select pg_notify(:channel, c.name) from changed c) as notified
