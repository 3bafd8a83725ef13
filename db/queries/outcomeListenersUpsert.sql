-- :listenerId, :ttlMs ms until it lapses: this process subscribes to outcomes.
-- Lapsed registrations of processes that exited without unregistering
-- (killed, crashed) are deleted on the way; SKIP LOCKED, so two processes
-- registering at once never wait on each other over them.
with lapsed as (
  delete from {{schema}}.outcome_listener
   where listener_id in (select listener_id from {{schema}}.outcome_listener
                          where expires_at < now() and listener_id <> :listenerId
                          for update skip locked)
)
insert into {{schema}}.outcome_listener (listener_id, expires_at)
values (:listenerId, now() + :ttlMs * interval '1 millisecond')
on conflict (listener_id) do update set expires_at = excluded.expires_at
