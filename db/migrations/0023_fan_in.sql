-- Fan-out and fan-in (issue 22, part 1): a step of a multi-step job starts
-- child tasks, and the job's next step is enqueued once they have all ended,
-- with their outputs in order. Built on the batches of 0021: the children
-- are the members of a batch, counted there; a fan_out row is the batch's
-- continuation (the parent job's next step) instead of a callback task.
-- See docs/design/fan-out.md and docs/workflows.md#fan-out-and-fan-in.
-- No column is added to task: task_ended / task_all are untouched.

-- A batch's continuation: the job `job_id` (of queue `queue_name`) whose
-- step `step_index - 1` fanned out, waiting for the batch's members
-- (`child_ids`, in the order the step listed them) to end; then its step
-- `step_index` is enqueued with their results (the task's columns in
-- `next_step`, by the names of EnqueueColumns, as batch.callback has them).
-- `policy`: 'fail' ends the job failed at the first child that fails or is
-- cancelled (and cancels the others); 'continue' waits for all and hands
-- the failures on. Settled once (`settled_at`): 'continued' (the next step
-- was enqueued, `next_task_id`), 'failed' or 'cancelled' (the next step's
-- row was written ended, `next_task_id`, its error saying why). Deleted
-- with its batch.
create table {{schema}}.fan_out (
  batch_id bigint primary key references {{schema}}.batch (id) on delete cascade,
  job_id uuid not null,
  queue_name text not null,
  parent_task_id bigint not null,
  step_index integer not null,
  policy text not null check (policy in ('fail', 'continue')),
  child_ids bigint[] not null,
  next_step jsonb not null,
  group_key text,
  trace_context jsonb,
  settled text check (settled in ('continued', 'failed', 'cancelled')),
  settled_at timestamptz,
  next_task_id bigint,
  error text
);

-- A job's cancel finds its waiting fan-out here, its page all of them.
create index fan_out_job_idx on {{schema}}.fan_out (job_id);

-- Each child's end as the fan-in hands it on: written by the statement that
-- ends it (batch_members_finished, below), so that a child whose own row is
-- deleted by its ttl, or moved by a redrive, before its siblings end still
-- has its output. Deleted with the batch.
create table {{schema}}.fan_in_result (
  batch_id bigint not null references {{schema}}.batch (id) on delete cascade,
  task_id bigint not null,
  state {{schema}}.task_state not null,
  output jsonb,
  error text,
  queue_name text not null,
  primary key (batch_id, task_id)
);

-- 0021's statement trigger, with the children's results kept for the fan-in.
-- Still nothing more than one look at the statement's rows for a statement
-- that ends no batch member; a member of a batch without a fan-out pays one
-- primary-key probe of fan_out.
create or replace function {{schema}}.batch_members_finished() returns trigger language plpgsql as $$
begin
  if not exists (select from finished f where f.batch_id is not null) then
    return null;
  end if;
  insert into {{schema}}.batch_end (batch_id, succeeded, failed, cancelled, failed_ids)
  select f.batch_id,
         (count(*) filter (where f.state = 'succeeded'))::integer,
         (count(*) filter (where f.state = 'failed'))::integer,
         (count(*) filter (where f.state = 'cancelled'))::integer,
         array_agg(f.id order by f.id) filter (where f.state = 'failed')
    from finished f
   where f.batch_id is not null
   group by f.batch_id;
  insert into {{schema}}.fan_in_result (batch_id, task_id, state, output, error, queue_name)
  select f.batch_id, f.id, f.state, f.output, f.error, coalesce(f.dlq_from, f.queue_name)
    from finished f
    join {{schema}}.fan_out o on o.batch_id = f.batch_id
   where f.batch_id is not null
  on conflict do nothing;
  return null;
end;
$$;

-- Cancels the live children among `ids`: pending ones at once, running ones
-- by request (tasksCancel.sql's semantics, announced on `channel`). With
-- `skip_locked`, a child another transaction holds at that instant is left
-- alone: the fan-in's callers hold the batch's row lock, and waiting for a
-- child's row there could close a cycle with that child's own end (which
-- waits for the batch's row at its commit). Such a child runs to its end;
-- its result is not used.
create function {{schema}}.fan_out_cancel_children(ids bigint[], channel text, skip_locked boolean)
  returns integer language plpgsql volatile as $$
declare
  n integer;
begin
  -- Waiting for the rows first (when asked to), then one statement that
  -- skips what others hold: a transaction never skips its own locks, so
  -- after the wait it skips nothing.
  if not skip_locked then
    perform from {{schema}}.task t
     where t.id = any(ids) and (t.state = 'pending' or (t.state = 'in_progress' and t.cancel_requested_at is null))
     order by t.id
       for update;
  end if;
  with chosen as (
    select t.id from {{schema}}.task t
     where t.id = any(ids) and (t.state = 'pending' or (t.state = 'in_progress' and t.cancel_requested_at is null))
     order by t.id
       for update skip locked
  ), changed as (
    update {{schema}}.task t
       set state = case when t.state = 'pending' then 'cancelled' else t.state end,
           finished_at = case when t.state = 'pending' then now() else t.finished_at end,
           error = case when t.state = 'pending' then 'cancelled' else t.error end,
           cancel_requested_at = case when t.state = 'in_progress' then coalesce(t.cancel_requested_at, now()) end
      from chosen c
     where t.id = c.id and t.state in ('pending', 'in_progress')
    returning case when t.state = 'in_progress' then pg_notify(channel, t.id::text) end
  )
  select count(*) into n from changed;
  return n;
end;
$$;

-- The channel a running task's cancel is announced on (`<schema>.cancel`, as
-- src/db/taskQueries.ts names it): the schema's name as stored, not quoted.
create function {{schema}}.fan_out_cancel_channel() returns text language sql stable as $$
  select n.nspname || '.cancel' from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where c.oid = '{{schema}}.fan_out'::regclass
$$;

-- Writes the waiting job's next step (`o.step_index`): pending with `input`
-- (a fan-in), or ended at once as `ended` ('failed' or 'cancelled') with
-- `error`, so that the job's outcome (its furthest step) says why it
-- stopped and its outcome stream is notified as for any step's end. Built
-- from the options stored at the fan-out; its delay and start deadline
-- count from now. Paused queues and caps do not stop it (as a next step
-- written by a completion).
create function {{schema}}.fan_out_next_step(o {{schema}}.fan_out, input jsonb, ended text, why text)
  returns bigint language plpgsql volatile as $$
declare
  c jsonb := o.next_step;
  next_id bigint;
begin
  insert into {{schema}}.task (
    queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
    timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit,
    rate_key, run_at, group_key, start_by, job_id, step_index, trace_context)
  values (
    o.queue_name, input,
    (c ->> 'maxAttempts')::integer, (c ->> 'retryInitialMs')::integer, (c ->> 'retryMaxMs')::integer,
    (c ->> 'retryCoefficient')::float8, (c ->> 'retryJitter')::float8, (c ->> 'timeoutMs')::integer,
    (c ->> 'heartbeatMs')::integer, (c ->> 'ttlMs')::bigint, (c ->> 'priority')::integer,
    c ->> 'concurrencyKey', (c ->> 'concurrencyLimit')::integer, c ->> 'rateLimitKey',
    now() + coalesce((c ->> 'delayMs')::float8, 0) * interval '1 millisecond',
    coalesce(c ->> 'groupKey', o.group_key),
    now() + (c ->> 'startWithinMs')::float8 * interval '1 millisecond',
    o.job_id, o.step_index, o.trace_context)
  returning id into next_id;
  if ended is not null then
    -- Ends it in this statement: trigger task_finish moves it to task_finished.
    update {{schema}}.task t
       set state = ended::{{schema}}.task_state, error = why, finished_at = now()
     where t.id = next_id;
  end if;
  return next_id;
end;
$$;

-- The results of fan-out `o`'s children, in the order they were listed:
-- their outputs for policy 'fail' (all succeeded), or for 'continue'
-- { ok: true, output } | { ok: false, state, error, taskId, queue } each. A
-- child deleted by ops before it ended has no result: cancelled, 'deleted'.
create function {{schema}}.fan_in_results(o {{schema}}.fan_out) returns jsonb language sql stable as $$
  select coalesce(jsonb_agg(
           case when o.policy = 'fail' then r.output
                when r.state = 'succeeded' then jsonb_build_object('ok', true, 'output', r.output)
                else jsonb_build_object('ok', false, 'state', coalesce(r.state::text, 'cancelled'),
                                        'error', coalesce(r.error, case when r.state is null then 'deleted' end),
                                        'taskId', c.id::text, 'queue', r.queue_name) end
           order by c.n), '[]'::jsonb)
    from unnest(o.child_ids) with ordinality c(id, n)
    left join {{schema}}.fan_in_result r on r.batch_id = o.batch_id and r.task_id = c.id
$$;

-- Why a 'fail' fan-out failed: its first child (in the order listed) that
-- failed or was cancelled, with its error.
create function {{schema}}.fan_in_failure(o {{schema}}.fan_out) returns text language sql stable as $$
  select format('child %s of %s (task %s, queue %s) %s%s', c.n, cardinality(o.child_ids), c.id,
                coalesce(r.queue_name, '?'),
                case when r.state = 'failed' then 'failed' when r.state is null then 'was deleted' else 'was cancelled' end,
                case when r.state = 'failed' then ': ' || coalesce(r.error, '') else '' end)
    from unnest(o.child_ids) with ordinality c(id, n)
    left join {{schema}}.fan_in_result r on r.batch_id = o.batch_id and r.task_id = c.id
   where r.state is distinct from 'succeeded'
   order by (r.state is null), c.n
   limit 1
$$;

-- What a count of batch `b` (just updated by batch_count, its row locked)
-- means for its fan-out, if it has one still waiting: all ended, the job's
-- next step (or, for 'fail' with a failure among them, the job's failure);
-- for 'fail', a failure or cancel among this count's ends fails the job at
-- once and cancels the children still live. The fan_out row is locked after
-- the batch's (every writer takes them in that order), and settled once.
create function {{schema}}.fan_out_counted(b {{schema}}.batch, ended_bad integer) returns void
  language plpgsql volatile as $$
declare
  o {{schema}}.fan_out;
  why text;
  next_id bigint;
begin
  select * into o from {{schema}}.fan_out x where x.batch_id = b.id and x.settled_at is null for update;
  if not found then
    return;
  end if;
  if o.policy = 'fail' and (ended_bad > 0 or (b.completed_at is not null and b.failed + b.cancelled > 0)) then
    why := coalesce({{schema}}.fan_in_failure(o), 'a child failed');
    next_id := {{schema}}.fan_out_next_step(o, 'null'::jsonb, 'failed', why);
    update {{schema}}.fan_out x set settled = 'failed', settled_at = now(), next_task_id = next_id, error = why
     where x.batch_id = o.batch_id;
    if b.completed_at is null then
      perform {{schema}}.fan_out_cancel_children(o.child_ids, {{schema}}.fan_out_cancel_channel(), true);
    end if;
  elsif b.completed_at is not null then
    next_id := {{schema}}.fan_out_next_step(o, {{schema}}.fan_in_results(o), null, null);
    update {{schema}}.fan_out x set settled = 'continued', settled_at = now(), next_task_id = next_id
     where x.batch_id = o.batch_id;
  end if;
end;
$$;

-- 0021's count, with the fan-out's turn after the batch's update (a batch
-- with a fan-out has no callback).
create or replace function {{schema}}.batch_count(batch_of bigint, ended_ok integer, ended_failed integer,
                                                  ended_cancelled integer, failed_of bigint[])
  returns void language plpgsql volatile as $$
declare
  b {{schema}}.batch;
begin
  update {{schema}}.batch x
     set succeeded = x.succeeded + ended_ok,
         failed = x.failed + ended_failed,
         cancelled = x.cancelled + ended_cancelled,
         -- Capped: a batch of 100,000 failing members must not rewrite an
         -- ever longer array at each end. `failed` keeps the exact count.
         failed_ids = case when failed_of is null or cardinality(x.failed_ids) >= 1000 then x.failed_ids
                           else (x.failed_ids || failed_of)[1:1000] end,
         completed_at = case when x.succeeded + x.failed + x.cancelled + ended_ok + ended_failed + ended_cancelled
                                  >= x.total then now() end
   where x.id = batch_of and x.completed_at is null
  returning x.* into b;
  if not found then
    return;
  end if;
  if b.callback is null then
    perform {{schema}}.fan_out_counted(b, ended_failed + ended_cancelled);
  end if;
  if b.completed_at is null then
    return;
  end if;
  perform {{schema}}.batch_callback(b);
end;
$$;

-- The cancel of job `job_of` (of queue `queue_of`; null: any) reaching its waiting
-- fan-out, if it has one: its live children cancelled (waiting for their
-- row locks, in id order, before the batch's lock is taken: nothing is
-- held then that a child's end would wait for), then, under the batch's
-- lock and the fan_out's, the job's next step written cancelled. Run in
-- the cancel's transaction after tasksLockJob, before the cancel of its
-- live steps: a fan-in that committed first has settled the fan-out, and
-- that cancel (a later statement) then sees and cancels the step it
-- enqueued. How many tasks it cancelled (children, pending or running, and
-- the next step); 0 when no fan-out was waiting.
create function {{schema}}.fan_out_cancel(job_of uuid, queue_of text) returns integer
  language plpgsql volatile as $$
declare
  o {{schema}}.fan_out;
  next_id bigint;
  children integer;
  cancelled integer := 0;
begin
  for o in
    select * from {{schema}}.fan_out x
     where x.job_id = job_of and (queue_of is null or x.queue_name = queue_of) and x.settled_at is null
  loop
    children := {{schema}}.fan_out_cancel_children(o.child_ids, {{schema}}.fan_out_cancel_channel(), false);
    perform 1 from {{schema}}.batch b where b.id = o.batch_id for update;
    select * into o from {{schema}}.fan_out x where x.batch_id = o.batch_id and x.settled_at is null for update;
    if found then
      next_id := {{schema}}.fan_out_next_step(o, 'null'::jsonb, 'cancelled', 'cancelled');
      update {{schema}}.fan_out x set settled = 'cancelled', settled_at = now(), next_task_id = next_id,
                                      error = 'cancelled'
       where x.batch_id = o.batch_id;
      cancelled := cancelled + children + 1;
    end if;
  end loop;
  return cancelled;
end;
$$;
