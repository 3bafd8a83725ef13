-- :name, :dlq dead-letter queue or null, :overwriteDlq whether to overwrite the dead-letter
-- queue of an existing row: a queue defines its own DLQ, but registering a DLQ
-- must not erase that DLQ's own DLQ (a→b must keep b→c). :counted: whether the
-- registering definition has a maxPending (its enqueues count pending tasks), or
-- null to leave the mark as it is (a DLQ registered by another queue's definition).
-- Returns the operator's cap (ops.setMaxPending), null when none is set: a
-- definition without maxPending is told its enqueues ignore it.
insert into {{schema}}.queue (name, dlq_name, counted) values (:name, :dlq, :counted::boolean)
on conflict (name) do update set dlq_name = case when :overwriteDlq then excluded.dlq_name else {{schema}}.queue.dlq_name end,
  counted = coalesce(excluded.counted, {{schema}}.queue.counted)
returning case when max_pending_set_at is not null then max_pending end as "operatorCap"
