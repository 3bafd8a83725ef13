-- :queue, :mode: 'set' (:limit starts per :periodMs ms), 'off' (no limit),
-- or 'definition' (the operator's setting cleared: the definition's, as the
-- last worker to start recorded it, applies again); :channel the ready
-- channel. An operator's setting ('set', 'off') overrides the definition's
-- until cleared, across restarts. Creates the queue's row if needed. Each
-- budget's next allowed start is recomputed with the setting now in force
-- (rate_refresh), and the queue's workers in every process wake (NOTIFY),
-- so a looser limit takes effect at once.
with written as (
  insert into {{schema}}.queue as q (name, dlq_name, rate_limit, rate_period_ms, rate_set_at)
  values (:queue, null,
          case when :mode::text = 'set' then :limit::integer end,
          case when :mode::text = 'set' then :periodMs::integer end,
          case when :mode::text <> 'definition' then now() end)
  on conflict (name) do update
    set rate_limit = case when excluded.rate_set_at is null then q.rate_defined_limit else excluded.rate_limit end,
        rate_period_ms = case when excluded.rate_set_at is null then q.rate_defined_period_ms
                              else excluded.rate_period_ms end,
        rate_set_at = excluded.rate_set_at
  returning q.name, q.rate_limit, q.rate_period_ms
)
select {{schema}}.rate_refresh(w.name, w.rate_limit, w.rate_period_ms) as refreshed,
       pg_notify(:channel, w.name) as notified
  from written w
