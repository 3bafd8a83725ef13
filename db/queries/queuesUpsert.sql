-- :name, :dlq dead-letter queue or null, :overwriteDlq whether to overwrite the dead-letter
-- queue of an existing row: a queue defines its own DLQ, but registering a DLQ
-- must not erase that DLQ's own DLQ (a→b must keep b→c).
insert into {{schema}}.queue (name, dlq_name) values (:name, :dlq)
on conflict (name) do update set dlq_name = case when :overwriteDlq then excluded.dlq_name else {{schema}}.queue.dlq_name end
