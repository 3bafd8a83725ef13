-- $1 ids, $2 attempts: extend the leases of a worker's tasks in one statement.
-- Returns the ones still ours; a task missing from the result was reclaimed.
-- Says which were asked to cancel, so a worker fires their signals even if
-- it missed the NOTIFY (a listener reconnecting, say).
-- Committed without waiting for the WAL flush: a renewal lost in a server
-- crash is made again on the next tick.
update {{schema}}.task t
   set lease_expires_at = now() + t.heartbeat_ms * interval '1 millisecond'
  from unnest($1::bigint[], $2::integer[]) as v(id, attempt)
 where (select set_config('synchronous_commit', 'off', true)) = 'off'
   and t.id = v.id and t.attempt = v.attempt and t.state = 'in_progress'
   -- Drives a generic plan through the primary key, whatever the estimates.
   and t.id = any($1::bigint[])
returning t.id::text, t.cancel_requested_at is not null as cancel_requested
