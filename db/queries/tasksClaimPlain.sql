-- An idle worker's claim of up to :limit tasks of :queue for :workerId, as
-- one prepared statement, for a queue that uses no flow control (not
-- paused, no queue rate limit, no grouped task pending); keyed tasks past
-- the first :startable of the batch are claimed unstarted (tasksStart).
-- The same rule as the short path of function task_claim
-- (db/migrations/0024_claim_fast_path.sql): a change to one is a change
-- to both, and test/claimPlain.test.ts holds them to the same rows.
--
-- Why a statement and not the function: an idle worker's claim waits on
-- it, and in a worker woken by NOTIFY the function's call cost about
-- 0.13 ms more than this statement (PL/pgSQL runs two statements where
-- this runs one; docs/design/claim-function.md, "The plain statement").
--
-- The gate reads what the function's first statement reads. When it finds
-- flow control, nothing is claimed and the one row says so (plain false):
-- the worker then claims through task_claim, which knows every path.
-- Otherwise the claimed rows come back with plain true, or, when nothing
-- was claimed, one row of nulls with plain true. Rows with a null id are
-- that status row, not tasks.
with gate as materialized (
  select {{> commitAsync}}
         and not exists (select from {{schema}}.queue q
                          where q.name = :queue and (q.paused_at is not null or q.rate_limit is not null))
         -- task_group_claim's probe, as in task_claim: a scalar subquery in
         -- the index's order, one probe of task_group_claim_idx.
         and (select true from {{schema}}.task g
               where g.queue_name = :queue and g.state = 'pending' and g.group_key is not null
               order by g.group_key limit 1) is null as plain
), candidates as (
  select t.id, t.concurrency_key, t.concurrency_limit, t.priority, t.run_at
    from {{schema}}.task t
   where (select plain from gate)
     and t.queue_name = :queue and t.state = 'pending' and t.group_key is null and t.run_at <= now()
     and (t.concurrency_key is null or {{> keyHasRoom}})
     and (t.rate_key is null or {{schema}}.rate_has_room(:queue, t.rate_key))
     and (t.start_by is null or t.start_by > now())
   order by t.priority desc, t.run_at, t.id
   limit :limit
   for update skip locked
), ranked as (
  select l.id, l.concurrency_key, l.concurrency_limit,
         row_number() over (partition by l.concurrency_key order by l.priority desc, l.run_at, l.id) as rank,
         row_number() over (order by l.priority desc, l.run_at, l.id) as batch_rank
    from candidates l
), claimed as (
  update {{schema}}.task t
     set state = 'in_progress',
         attempt = t.attempt + 1,
         worker_id = :workerId,
         started_at = case when r.concurrency_key is null or r.batch_rank <= :startable then now() end,
         rate_limited = false,
         lease_expires_at = now() + t.heartbeat_ms * interval '1 millisecond',
         -- A deadline is for the first start only (task_claim says so).
         start_by = null
    from ranked r
   where t.id = r.id and (r.concurrency_key is null or r.rank <= r.concurrency_limit)
     and (t.start_by is null or t.start_by > now())
     and t.id = any(array(select l.id from candidates l))
  returning t.id::text as id, t.input, t.attempt, t.max_attempts, t.retry_initial_ms, t.retry_max_ms,
            t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.concurrency_key,
            t.concurrency_limit, t.job_id, t.step_index, t.priority, t.dlq_from, t.attempt_budget,
            t.started_at is not null as admitted, t.rate_limited, t.snoozes,
            (extract(epoch from now() - t.run_at) * 1000)::float8 as wait_ms, t.trace_context,
            r.batch_rank
)
select c.*, g.plain from gate g left join claimed c on true
