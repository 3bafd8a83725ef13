-- $1 ids, $2 attempts, $3 outputs: one statement for a batch of successes.
-- Fenced: a row reclaimed since (new attempt) or no longer in progress is
-- left alone and not returned. A row whose cancel was requested ends
-- cancelled instead (trigger task_cancel_wins) and is not returned either.
-- Committed without waiting for the WAL flush (synchronous_commit off for
-- this transaction only, set in the statement so it costs no round trip): a
-- completion lost in a server crash leaves the task in progress, so it runs
-- again once its lease expires, which at-least-once delivery allows. See
-- docs/reliability.md.
with completed as (
  update {{schema}}.task t
     set state = 'succeeded', output = v.output, finished_at = now(), lease_expires_at = null, error = null
    -- By subscript, not unnest: a generic plan (a prepared statement's, after
    -- five runs) estimates unnest($1) at 10 rows and rescanned it for every row
    -- found by `= any` (250,000 comparisons for 500); it estimates
    -- generate_subscripts at 1,000 and hashes it (docs/performance.md).
    from (select ($1::bigint[])[i] as id, ($2::integer[])[i] as attempt, ($3::jsonb[])[i] as output
            from generate_subscripts($1::bigint[], 1) i) v
   where (select set_config('synchronous_commit', 'off', true)) = 'off'
     -- Nobody listens for outcomes: the outcome trigger is skipped for this
     -- statement's rows (migration 0012) instead of looking once per row.
     and (select set_config('underway.unheard',
            case when exists (select 1 from {{schema}}.outcome_listener l where l.expires_at > now())
                 then '' else '{{schema}}' end, true)) is not null
     and t.id = v.id and t.attempt = v.attempt and t.state = 'in_progress'
     -- Drives a generic plan through the primary key, whatever the estimates.
     and t.id = any($1::bigint[])
  returning t.id, t.state
)
select id::text from completed where state = 'succeeded'
