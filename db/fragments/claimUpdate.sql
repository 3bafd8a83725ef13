-- The claim rule, second half: the UPDATE that claims what `ranked`
-- (claimCandidates) kept, returning tasksClaim's rows (ClaimedRow). Takes
-- :workerId and :startable. Per key, at most its limit of the batch.
-- Keyed tasks past the first :startable of the batch are claimed unstarted
-- (started_at null: no key slot until tasksStart admits them), and so are
-- those of a rate-limited queue: a start counts against the rate budget
-- when the task really starts, not while it waits in a worker for a slot
-- (the task_rate_admit trigger admits it, or not, at either moment).
update {{schema}}.task t
   set state = 'in_progress',
       attempt = t.attempt + 1,
       worker_id = :workerId,
       started_at = case when (r.concurrency_key is null and r.claim_mode = 0) or r.batch_rank <= :startable
                         then now() end,
       rate_limited = r.claim_mode = 1,
       lease_expires_at = now() + t.heartbeat_ms * interval '1 millisecond',
       -- A deadline is for the first start only: met now, so a retry or a
       -- snooze runs whenever it falls due.
       start_by = null
  from ranked r
 where t.id = r.id and (r.concurrency_key is null or r.rank <= r.concurrency_limit)
   -- Grouped candidates (task_group_claim) are not filtered by deadline: one
   -- past it is locked but left pending here, for the reaper to cancel.
   and (t.start_by is null or t.start_by > now())
   -- Keeps a generic plan (prepared statement, unknown limit) on the primary
   -- key instead of hashing the whole table.
   and t.id = any(array(select id from locked))
returning t.id::text as id, t.input, t.attempt, t.max_attempts, t.retry_initial_ms, t.retry_max_ms,
          t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.concurrency_key, t.concurrency_limit,
          t.job_id, t.step_index, t.priority, t.dlq_from, t.attempt_budget, t.started_at is not null as admitted,
          t.rate_limited, t.snoozes,
          -- For lifecycle events and tracing: the wait since due (database clock), the producer's trace.
          (extract(epoch from now() - t.run_at) * 1000)::float8 as wait_ms, t.trace_context,
          -- The batch's order (the RETURNING's own is the join's): groups' turns, then priority.
          r.batch_rank
