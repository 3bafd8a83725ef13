-- The inspection and admin API (src/ops/). See docs/design/ops-queries.md
-- for the indexes weighed and what each costs the enqueue and the drain.

-- Lists by queue and state in id order (keyset pages, newest or oldest
-- first), bounded counts, and the loose scan that finds every queue name.
-- One index for all of them: each index on task costs every insert and,
-- since state changes are never HOT updates here, every claim and completion.
-- `if not exists`: on a large table, create it (and the next one) by hand
-- with CREATE INDEX CONCURRENTLY first; here it would block writes while it
-- builds, migrations running in a transaction.
create index if not exists task_queue_state_idx on {{schema}}.task (queue_name, state, id);

-- Lists by concurrency key. Partial: tasks without a key pay nothing.
create index if not exists task_key_list_idx on {{schema}}.task (concurrency_key, id) where concurrency_key is not null;

-- Queues and states are correlated (a DLQ holds failed tasks only): the
-- combined most-common-values list lets the planner estimate each
-- (queue, state) pair, which is what the counts read instead of count(*).
create statistics {{schema}}.task_queue_state_stat (mcv) on queue_name, state from {{schema}}.task;

-- The planner's row estimate for one (queue, state): fast at any size, as
-- current as the last ANALYZE scaled to the table's current size. Volatile
-- because PostgreSQL allows EXPLAIN in volatile functions only.
create function {{schema}}.task_count_estimate(queue text, task_state {{schema}}.task_state)
  returns bigint language plpgsql volatile as $$
declare
  plan json;
begin
  -- Literals, not parameters: the estimate must be for these values.
  execute format('explain (format json) select 1 from {{schema}}.task where queue_name = %L and state = %L',
                 queue, task_state)
    into plan;
  return (plan -> 0 -> 'Plan' ->> 'Plan Rows')::bigint;
end;
$$;

-- When the oldest pending task of a queue fell due, off the claim index: its
-- first row per priority is that priority's oldest, so a loose scan over
-- the priorities reads one row each instead of the whole backlog.
create function {{schema}}.task_oldest_due(queue text) returns timestamptz language sql stable as $$
  with recursive heads(priority, run_at) as (
    (select t.priority, t.run_at from {{schema}}.task t
      where t.queue_name = queue and t.state = 'pending'
      order by t.priority desc, t.run_at, t.id limit 1)
    union all
    select next.priority, next.run_at from heads h cross join lateral (
      select t.priority, t.run_at from {{schema}}.task t
       where t.queue_name = queue and t.state = 'pending' and t.priority < h.priority
       order by t.priority desc, t.run_at, t.id limit 1) next
  )
  select min(run_at) from heads where run_at <= now()
$$;

-- Throughput: per queue and minute, counted in memory by each client and
-- added here every few seconds in one statement (never a write per task).
create table {{schema}}.queue_stat (
  queue_name text not null,
  bucket timestamptz not null,
  enqueued bigint not null default 0,
  succeeded bigint not null default 0,
  failed bigint not null default 0,
  retried bigint not null default 0,
  cancelled bigint not null default 0,
  primary key (queue_name, bucket)
);

create index queue_stat_bucket_idx on {{schema}}.queue_stat (bucket);

-- Processes running workers, one row per client, renewed on a timer while
-- it runs any. Unlogged: after a crash, live processes write theirs again
-- within one heartbeat. Rows past a few heartbeats are ignored and pruned.
create unlogged table {{schema}}.worker_process (
  id text primary key,
  host text not null,
  pid integer not null,
  queues jsonb not null,
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now()
);
