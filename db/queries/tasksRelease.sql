-- :ids, :attempts: claimed but never started (shutdown); back to pending
-- as if never claimed, so no attempt is spent. Committed without waiting
-- for the WAL flush: a release lost in a server crash leaves the task claimed,
-- and its lease running out returns it (docs/reliability.md).
update {{schema}}.task t
   set state = 'pending', attempt = t.attempt - 1, lease_expires_at = null, worker_id = null, started_at = null
  -- By subscript, not unnest: a generic plan estimates unnest(:ids) at 10 rows
  -- and rescanned it for every row found (quadratic), where it estimates
  -- generate_subscripts at 1,000 and hashes it (docs/performance.md).
  from (select (:ids::bigint[])[i] as id, (:attempts::integer[])[i] as attempt from generate_subscripts(:ids::bigint[], 1) i) v
 where {{> commitAsync}}
   and t.id = v.id and t.attempt = v.attempt and t.state = 'in_progress'
   -- Drives a generic plan through the primary key, whatever the estimates.
   and t.id = any(:ids::bigint[])
returning t.id::text
