-- :ids, :attempts: start claimed, unstarted (prefetched) tasks, keyed or of
-- a rate-limited queue. Setting started_at takes the key's slot through the
-- task_key_admit trigger and a start of the rate budget through
-- task_rate_admit; a task whose key is at its limit or whose budget is spent
-- is left as it was and missing from the result (the worker gives it back).
-- Fenced by the attempt.
-- Committed without waiting for the WAL flush, as a claim is: an admission
-- lost in a server crash only makes the task run again (docs/reliability.md).
update {{schema}}.task t
   set started_at = now(),
       lease_expires_at = now() + t.heartbeat_ms * interval '1 millisecond'
  -- By subscript, not unnest: a generic plan estimates unnest(:ids) at 10 rows
  -- and rescanned it for every row found (quadratic), where it estimates
  -- generate_subscripts at 1,000 and hashes it (docs/performance.md).
  from (select (:ids::bigint[])[i] as id, (:attempts::integer[])[i] as attempt from generate_subscripts(:ids::bigint[], 1) i) v
 where {{> commitAsync}}
   and t.id = v.id and t.attempt = v.attempt and t.state = 'in_progress' and t.started_at is null
   -- Drives a generic plan through the primary key, whatever the estimates.
   and t.id = any(:ids::bigint[])
returning t.id::text
