-- $1 name, $2 dead-letter queue or null, $3 whether to overwrite the dead-letter
-- queue of an existing row: a queue defines its own DLQ, but registering a DLQ
-- must not erase that DLQ's own DLQ (a→b must keep b→c).
insert into {{schema}}.queue (name, dlq_name) values ($1, $2)
on conflict (name) do update set dlq_name = case when $3 then excluded.dlq_name else {{schema}}.queue.dlq_name end
