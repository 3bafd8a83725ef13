-- :queue, :mode: 'set' (a cap of :cap pending tasks), 'off' (no cap), or
-- 'definition' (the operator's setting cleared: each enqueue's definition
-- applies again). An operator's setting ('set', 'off') wins over the
-- definitions' maxPending until cleared. 'set' is not written to a queue
-- whose last registered definition has no maxPending (queue.counted false,
-- migration 0025): its enqueues never count, so the cap would never apply;
-- no row comes back, and ops.setMaxPending says why. Creates the queue's
-- row if needed; read by the next capped enqueue (queue_pending_check).
insert into {{schema}}.queue as q (name, dlq_name, max_pending, max_pending_set_at)
values (:queue, null, case when :mode::text = 'set' then :cap::integer end,
        case when :mode::text <> 'definition' then now() end)
on conflict (name) do update
  set max_pending = excluded.max_pending, max_pending_set_at = excluded.max_pending_set_at
  where :mode::text <> 'set' or q.counted is not false
returning q.max_pending as "maxPending", q.max_pending_set_at as "setAt", q.counted
