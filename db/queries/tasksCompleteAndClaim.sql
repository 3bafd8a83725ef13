-- A worker's batch of successes and its next claim in one statement: one
-- round trip and one commit instead of two. :ids, :attempts, :outputs (as
-- tasksComplete, the same fragments); :queue, :limit, :workerId, :startable
-- (as tasksClaim, the same fragments: see its comments on the candidate
-- rules and unstarted prefetched keyed tasks). Returns one row: the ids
-- completed, and the claimed tasks as a JSON array of tasksClaim's rows.
-- The claim's snapshot still sees this statement's completions as running,
-- so a concurrency key freed here is taken again by the next claim, not this
-- one (never more than the limit).
-- Committed without waiting for the WAL flush: a completion or claim lost in
-- a server crash only makes a task run again (see docs/reliability.md).
with done as (
  {{> successesFenced}}
  returning t, v.output as result
), {{> successesFinished}},
{{> claimCandidates}},
claimed as (
  {{> claimUpdate}}
)
select array(select (d.t).id::text from done d where (d.t).cancel_requested_at is null) as completed,
       coalesce((select json_agg(c) from claimed c), '[]'::json) as claimed
