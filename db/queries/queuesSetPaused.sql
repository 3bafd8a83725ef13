-- :queue, :paused (true) or resumed (false), :channel the ready channel.
-- Creates the queue's row if needed (a queue may be paused before anything
-- was enqueued). A resume wakes the queue's workers in every process at once.
with changed as (
  insert into {{schema}}.queue (name, dlq_name, paused_at)
  values (:queue, null, case when :paused then now() end)
  on conflict (name) do update
    set paused_at = case when :paused then coalesce({{schema}}.queue.paused_at, now()) end
  returning name, paused_at
)
select name, paused_at as "pausedAt",
       case when paused_at is null then pg_notify(:channel, name) end as notified
  from changed
