-- $1 ids, $2 attempts, $3 outputs: one statement for a batch of successes.
-- Each task leaves `task` (DELETE … RETURNING) and goes into task_finished
-- in the same statement (docs/design/storage-v2.md). Fenced: a row
-- reclaimed since (new attempt) or no longer in progress is left alone and
-- not returned. A row whose cancel was requested ends cancelled instead
-- (task_succeeded; trigger task_finished_inserted records its attempt) and
-- is not returned either.
-- Committed without waiting for the WAL flush (synchronous_commit off for
-- this transaction only, set in the statement so it costs no round trip): a
-- completion lost in a server crash leaves the task in progress, so it runs
-- again once its lease expires, which at-least-once delivery allows. See
-- docs/reliability.md.
with done as (
  delete from {{schema}}.task t
    -- By subscript, not unnest: a generic plan (a prepared statement's, after
    -- five runs) estimates unnest($1) at 10 rows and rescanned it for every row
    -- found by `= any` (250,000 comparisons for 500); it estimates
    -- generate_subscripts at 1,000 and hashes it (docs/performance.md).
   using (select ($1::bigint[])[i] as id, ($2::integer[])[i] as attempt, ($3::jsonb[])[i] as output
            from generate_subscripts($1::bigint[], 1) i) v
   where (select set_config('synchronous_commit', 'off', true)) = 'off'
     and t.id = v.id and t.attempt = v.attempt and t.state = 'in_progress'
     -- Drives a generic plan through the primary key, whatever the estimates.
     and t.id = any($1::bigint[])
  returning t, v.output as result
), finished as (
  insert into {{schema}}.task_finished
  select f.* from done d cross join lateral {{schema}}.task_succeeded(d.t, d.result, now()) f
)
select (d.t).id::text as id from done d where (d.t).cancel_requested_at is null
