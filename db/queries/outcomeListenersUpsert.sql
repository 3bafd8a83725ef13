-- $1 listener id, $2 ms until it lapses: this process subscribes to outcomes.
insert into {{schema}}.outcome_listener (listener_id, expires_at)
values ($1, now() + $2 * interval '1 millisecond')
on conflict (listener_id) do update set expires_at = excluded.expires_at
