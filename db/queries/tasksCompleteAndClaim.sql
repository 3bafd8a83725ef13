-- A worker's batch of successes and its next claim in one statement: one
-- round trip and one commit instead of two. :ids, :attempts, :outputs (as
-- tasksComplete, the same fragments); :queue, :limit, :workerId, :startable
-- (as tasksClaim: the function task_claim). Returns one row: the ids
-- completed, and the claimed tasks as a JSON array of tasksClaim's rows.
-- task_claim's statements read a snapshot of their own, taken after the
-- completions (the select list reads `done` first): a concurrency key freed
-- here may be taken by this claim, and the task_key_admit trigger, which
-- counts under the key's lock in a fresh snapshot, keeps it within its
-- limit (docs/design/claim-function.md).
-- Committed without waiting for the WAL flush: a completion or claim lost in
-- a server crash only makes a task run again (see docs/reliability.md).
with done as (
  {{> successesFenced}}
  returning t, v.output as result
), {{> successesFinished}},
claimed as (
  select * from {{schema}}.task_claim(:queue, :limit, :workerId, :startable)
)
select array(select (d.t).id::text from done d where (d.t).cancel_requested_at is null) as completed,
       coalesce((select json_agg(c) from claimed c), '[]'::json) as claimed
