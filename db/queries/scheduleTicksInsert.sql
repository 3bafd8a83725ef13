-- :queue, :version schedule version the caller acts on, :tickAt tick time.
-- Claims one tick, in the caller's transaction: the primary key lets exactly
-- one concurrent caller insert it (the others wait for its commit, then find
-- the row), and a caller on an outdated version inserts nothing. Ticks older
-- than the 7-day horizon are refused, because their rows may have been
-- pruned; the caller that claims a tick prunes its queue's expired rows.
with current as (
  select queue_name, version from {{schema}}.schedule where queue_name = :queue
), tick as (
  insert into {{schema}}.schedule_tick (queue_name, tick_at)
  select queue_name, :tickAt from current
   where version = :version::bigint and :tickAt::timestamptz > now() - interval '7 days'
  on conflict do nothing
  returning queue_name, tick_at
), recorded as (
  update {{schema}}.schedule s set last_tick_at = greatest(s.last_tick_at, tick.tick_at)
    from tick where s.queue_name = tick.queue_name
), pruned as (
  delete from {{schema}}.schedule_tick
   where queue_name = :queue and tick_at <= now() - interval '7 days' and exists (select 1 from tick)
)
select (select version::text from current) as version, exists (select 1 from tick) as claimed
