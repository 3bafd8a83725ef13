-- Design A: a narrow hot row. `task` keeps what a claim, a completion or a
-- lease renewal changes or filters on; `task_input` keeps what is written
-- once at enqueue and only read afterwards (the input, the retry policy,
-- the job). Same indexes as today on `task` (every feature keeps its index),
-- task_job_idx moves to task_input. Output and error stay on `task`: null
-- while the task is live, so the row a claim copies stays narrow.

-- name: setup
create type {{schema}}.task_state as enum ('pending', 'in_progress', 'succeeded', 'cancelled', 'failed');
create table {{schema}}.queue (
  name text primary key, dlq_name text, paused_at timestamptz, created_at timestamptz not null default now());
create table {{schema}}.task (
  id bigint generated always as identity primary key,
  queue_name text not null,
  state {{schema}}.task_state not null default 'pending',
  priority integer not null default 0,
  run_at timestamptz not null default now(),
  attempt integer not null default 0,
  max_attempts integer not null,
  attempt_budget integer,
  concurrency_key text,
  concurrency_limit integer not null default 1,
  unique_key text,
  ttl_ms bigint not null,
  lease_expires_at timestamptz,
  worker_id text,
  started_at timestamptz,
  finished_at timestamptz,
  cancel_requested_at timestamptz,
  dlq_from text,
  output jsonb,
  error text
) with (fillfactor = 80);
create table {{schema}}.task_input (
  id bigint primary key,
  input jsonb not null,
  retry_initial_ms integer not null,
  retry_max_ms integer not null,
  retry_coefficient double precision not null,
  retry_jitter double precision not null,
  timeout_ms integer not null,
  heartbeat_ms integer not null,
  job_id uuid,
  step_index integer,
  trace_context jsonb,
  created_at timestamptz not null default now()
);
create function {{schema}}.task_expires_at(finished_at timestamptz, ttl_ms bigint) returns timestamptz
  language sql immutable parallel safe as $$ select finished_at + ttl_ms * interval '1 millisecond' $$;
create index task_claim_idx on {{schema}}.task (queue_name, priority desc, run_at, id) where state = 'pending';
create index task_lease_idx on {{schema}}.task (lease_expires_at) where state = 'in_progress';
create unique index task_unique_key_idx on {{schema}}.task (queue_name, unique_key)
  where unique_key is not null and state in ('pending', 'in_progress');
create index task_expiry_idx on {{schema}}.task ({{schema}}.task_expires_at(finished_at, ttl_ms))
  where state in ('succeeded', 'failed', 'cancelled');
create index task_key_running_idx on {{schema}}.task (queue_name, concurrency_key)
  where state = 'in_progress' and concurrency_key is not null;
create index task_queue_state_idx on {{schema}}.task (queue_name, state, id);
create index task_key_list_idx on {{schema}}.task (concurrency_key, id) where concurrency_key is not null;
create index task_input_job_idx on {{schema}}.task_input (job_id) where job_id is not null;

-- name: enqueue
-- The parameters of tasksEnqueueUniform. Two rows per task: the id comes
-- from the hot row and is handed to the input row in the same statement.
with inserted as (
  insert into {{schema}}.task (queue_name, max_attempts, ttl_ms, priority, concurrency_key,
                               concurrency_limit, unique_key, run_at)
  select $1, $3, $10, $11, $12, $13, $14, now() + $15::float8 * interval '1 millisecond'
    from unnest($2::jsonb[]) with ordinality as v(input, ord)
   order by v.ord
  on conflict (queue_name, unique_key) where unique_key is not null and state in ('pending', 'in_progress')
  do nothing
  returning id, unique_key
), numbered as (
  select id, unique_key, row_number() over (order by id) as ord from inserted
), inputs as (
  insert into {{schema}}.task_input (id, input, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
                                     timeout_ms, heartbeat_ms, job_id, step_index, trace_context)
  -- The prototype pairs rows by order; the real statement would pair them
  -- by ordinality through the conflict (a skipped unique key).
  select n.id, v.input, $4, $5, $6, $7, $8, $9, null, null, $16::jsonb
    from numbered n join unnest($2::jsonb[]) with ordinality as v(input, ord) on v.ord = n.ord
  returning id
)
select n.id::text, n.unique_key, (select count(*) from inputs) as inputs from numbered n

-- name: claim
with locked as (
  select id, concurrency_key, concurrency_limit, priority, run_at
    from {{schema}}.task t
   where (select set_config('synchronous_commit', 'off', true)) = 'off'
     and queue_name = $1 and state = 'pending' and run_at <= now()
     and not exists (select 1 from {{schema}}.queue q where q.name = $1 and q.paused_at is not null)
     and (concurrency_key is null or (
           select count(*) from (
             select 1 from {{schema}}.task r
              where r.queue_name = t.queue_name and r.concurrency_key = t.concurrency_key
                and r.state = 'in_progress' and r.started_at is not null
              limit t.concurrency_limit) running) < t.concurrency_limit)
   order by priority desc, run_at, id
   limit $2
   for update skip locked
), ranked as (
  select id, concurrency_key, concurrency_limit,
         row_number() over (partition by concurrency_key order by priority desc, run_at, id) as rank,
         row_number() over (order by priority desc, run_at, id) as batch_rank
    from locked
)
update {{schema}}.task t
   set state = 'in_progress',
       attempt = t.attempt + 1,
       worker_id = $3,
       started_at = case when r.concurrency_key is null or r.batch_rank <= $4 then now() end,
       lease_expires_at = now() + p.heartbeat_ms * interval '1 millisecond'
  from ranked r, {{schema}}.task_input p
 where t.id = r.id and p.id = r.id and (r.concurrency_key is null or r.rank <= r.concurrency_limit)
   and t.id = any(array(select id from locked))
returning t.id::text, p.input, t.attempt, t.max_attempts, p.retry_initial_ms, p.retry_max_ms,
          p.retry_coefficient, p.retry_jitter, p.timeout_ms, p.heartbeat_ms, t.concurrency_key, t.concurrency_limit,
          p.job_id, p.step_index, t.priority, t.dlq_from, t.attempt_budget, t.started_at is not null as admitted,
          (extract(epoch from now() - t.run_at) * 1000)::float8 as wait_ms, p.trace_context

-- name: complete
with completed as (
  update {{schema}}.task t
     set state = 'succeeded', output = v.output, finished_at = now(), lease_expires_at = null, error = null
    from unnest($1::bigint[], $2::integer[], $3::jsonb[]) as v(id, attempt, output)
   where (select set_config('synchronous_commit', 'off', true)) = 'off'
     and t.id = v.id and t.attempt = v.attempt and t.state = 'in_progress'
     and t.id = any($1::bigint[])
  returning t.id, t.state
)
select id::text from completed where state = 'succeeded'

-- name: fill
with hot as (
  insert into {{schema}}.task (queue_name, state, output, attempt, max_attempts, ttl_ms, run_at, worker_id,
                               started_at, finished_at)
  select 'old', 'succeeded', '{"ok": true}', 1, 5, 1209600000,
         now() - interval '7 days' + g * (interval '7 days' / $1), 'w-old',
         now() - interval '7 days' + g * (interval '7 days' / $1),
         now() - interval '7 days' + g * (interval '7 days' / $1)
    from generate_series(1, $1::int) g
  returning id
)
insert into {{schema}}.task_input (id, input, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
                                   timeout_ms, heartbeat_ms, created_at)
select id, jsonb_build_object('userId', id, 'email', 'user' || id || '@example.com', 'template', 'welcome'),
       1000, 60000, 2, 0.5, 900000, 30000, now() - interval '7 days'
  from hot

-- name: heartbeat
-- tasksHeartbeat; the heartbeat interval is read from task_input.
with asked as (
  select v.id, v.attempt from unnest($1::bigint[], $2::integer[]) as v(id, attempt)
), ours as (
  select t.id, t.cancel_requested_at is not null as cancel_requested
    from {{schema}}.task t join asked a on a.id = t.id and a.attempt = t.attempt
   where t.state = 'in_progress' and t.id = any($1::bigint[])
), free as (
  select t.id
    from {{schema}}.task t join asked a on a.id = t.id and a.attempt = t.attempt
   where t.state = 'in_progress' and t.id = any($1::bigint[])
     for no key update of t skip locked
), renewed as (
  update {{schema}}.task t
     set lease_expires_at = now() + p.heartbeat_ms * interval '1 millisecond'
    from free f, {{schema}}.task_input p
   where (select set_config('synchronous_commit', 'off', true)) = 'off'
     and t.id = f.id and p.id = f.id
  returning t.id
)
select o.id::text, o.cancel_requested, r.id is not null as renewed
  from ours o left join renewed r on r.id = o.id
