-- :ids, :attempts: extend the leases of a worker's tasks in one statement.
-- Returns the ones still ours; a task missing from the result was reclaimed
-- (or finished). Says which were asked to cancel, so a worker fires their
-- signals even if it missed the NOTIFY (a listener reconnecting, say).
-- Never waits on a row lock: a row another session holds (an operator's
-- open transaction, a transactional handler that updated its own task row)
-- is skipped and returned with renewed = false, still ours, for the worker
-- to try again on its next tick. Waiting instead would hold up the renewal
-- of every other task in the batch until their leases ran out. The plain
-- read in `ours` waits on nothing either. NO KEY UPDATE is the lock the
-- update itself takes: it lets foreign-key checks (KEY SHARE) through.
-- Committed without waiting for the WAL flush: a renewal lost in a server
-- crash is made again on the next tick.
-- The batch is read by subscript, not unnest, in each part (not one CTE,
-- which a plan rescans per row found): see tasksComplete.
with ours as (
  select t.id, t.cancel_requested_at is not null as cancel_requested
    from {{schema}}.task t join (select (:ids::bigint[])[i] as id, (:attempts::integer[])[i] as attempt
                                   from generate_subscripts(:ids::bigint[], 1) i) a on a.id = t.id and a.attempt = t.attempt
   where t.state = 'in_progress'
     -- Drives a generic plan through the primary key, whatever the estimates.
     and t.id = any(:ids::bigint[])
), free as (
  select t.id
    from {{schema}}.task t join (select (:ids::bigint[])[i] as id, (:attempts::integer[])[i] as attempt
                                   from generate_subscripts(:ids::bigint[], 1) i) a on a.id = t.id and a.attempt = t.attempt
   where t.state = 'in_progress' and t.id = any(:ids::bigint[])
     for no key update of t skip locked
), renewed as (
  update {{schema}}.task t
     set lease_expires_at = now() + t.heartbeat_ms * interval '1 millisecond'
    from free f
   where {{> commitAsync}}
     and t.id = f.id
  returning t.id
)
-- IN over the uncorrelated CTE is a hashed subplan, whatever the estimates;
-- a left join to it was a nested loop rescanning renewed once per row.
select o.id::text, o.cancel_requested, o.id in (select id from renewed) as renewed
  from ours o
