-- $1 name, $2 dead-letter queue or null.
insert into {{schema}}.queue (name, dlq_name) values ($1, $2)
on conflict (name) do update set dlq_name = excluded.dlq_name
