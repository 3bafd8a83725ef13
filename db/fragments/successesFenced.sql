-- The success write, first half: a DELETE of a batch of successes from
-- task, fenced, for tasksComplete, tasksCompleteAndClaim and
-- tasksCompleteAndContinue. Takes :ids, :attempts, :outputs (one each per
-- task). Ends inside its WHERE, so a statement may add a predicate (the job
-- lock of tasksCompleteAndContinue) before its RETURNING, which must return
-- `t` and `v.output as result` for successesFinished. Fenced: a row
-- reclaimed since (new attempt) or no longer in progress is left alone.
delete from {{schema}}.task t
  -- By subscript, not unnest: a generic plan (a prepared statement's, after
  -- five runs) estimates unnest(ids) at 10 rows and rescanned it for every row
  -- found by `= any` (250,000 comparisons for 500); it estimates
  -- generate_subscripts at 1,000 and hashes it (docs/performance.md).
 using (select (:ids::bigint[])[i] as id, (:attempts::integer[])[i] as attempt, (:outputs::jsonb[])[i] as output
          from generate_subscripts(:ids::bigint[], 1) i) v
 where {{> commitAsync}}
   and t.id = v.id and t.attempt = v.attempt and t.state = 'in_progress'
   -- Drives a generic plan through the primary key, whatever the estimates.
   and t.id = any(:ids::bigint[])
