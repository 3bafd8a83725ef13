-- :limit batch size. Deletes rate budgets idle for longer than their queue's
-- period, with their start times: none of their starts is in any window any
-- more (a queue without a limit: none counts at all), and without this a
-- budget would stay for every key ever used (one per customer, per API
-- token). The retention sweep runs it. SKIP LOCKED leaves a budget that an
-- admission is updating; an admission that read a budget this deletes
-- writes it again, from the starts it saw (all outside the window).
with idle as (
  select b.queue_name, b.rate_key
    from {{schema}}.rate_budget b
    left join {{schema}}.queue q on q.name = b.queue_name
   where b.last_at < now() - coalesce(q.rate_period_ms, 0) * interval '1 millisecond'
   limit :limit
   for update of b skip locked
), gone as (
  delete from {{schema}}.rate_budget b using idle i
   where b.queue_name = i.queue_name and b.rate_key = i.rate_key
  returning b.queue_name, b.rate_key
), starts as (
  delete from {{schema}}.rate_start s using gone g
   where s.queue_name = g.queue_name and s.rate_key = g.rate_key
)
select count(*)::integer as deleted from gone
