-- Fair tenants (issue 21, part 2): a task's group, and claims that take
-- turns across the groups of a queue. See docs/design/fair-groups.md.

-- Columns (kept together for the merge with other migrations that add some).
-- task_finished has task's columns in task's order (0014): both gain it last.
-- Nullable without default: adding it rewrites no rows, and a task without a
-- group stores nothing.
alter table {{schema}}.task add column group_key text;
alter table {{schema}}.task_finished add column group_key text;
-- Where the queue's rotation over its groups stands: the group that took the
-- last turn and how many of that turn's tasks it took (a weighted group's
-- turn may span claims). Written by grouped claims only.
alter table {{schema}}.queue add column group_turn text, add column group_turn_used integer;

-- The view of every task (0014) lists the columns it was made with: made again, it has group_key too.
create or replace view {{schema}}.task_all as
  select * from {{schema}}.task
  union all
  select * from {{schema}}.task_finished;

-- The claim index splits in two, so each task is in exactly one: tasks
-- without a group in task_claim_idx as before (same columns, so the plain
-- claim's plan and cost do not change), grouped tasks in
-- task_group_claim_idx, ordered by group first, so that a claim can walk
-- the distinct groups (one probe each) and read each group's next tasks in
-- its own order. The queue-wide order of grouped tasks (the next-due read,
-- the oldest due task, the not-due counts of the queue list) comes from
-- task_group_due_idx. Grouped tasks pay for two indexes; tasks without a
-- group for one, as before. Built inside the migration's transaction: on a
-- large backlog, create the two grouped indexes by hand with CREATE INDEX
-- CONCURRENTLY first (this file skips them then).
create index if not exists task_group_claim_idx on {{schema}}.task (queue_name, group_key, priority desc, run_at, id)
  where state = 'pending' and group_key is not null;
create index if not exists task_group_due_idx on {{schema}}.task (queue_name, priority desc, run_at, id)
  where state = 'pending' and group_key is not null;
drop index {{schema}}.task_claim_idx;
create index task_claim_idx on {{schema}}.task (queue_name, priority desc, run_at, id)
  where state = 'pending' and group_key is null;

-- Weights an operator sets: a group of weight 3 takes three tasks per turn
-- where one of weight 1 takes one. A group without a row weighs 1.
create table {{schema}}.group_weight (
  queue_name text not null,
  group_key text not null,
  weight integer not null check (weight between 1 and 1000),
  updated_at timestamptz not null default now(),
  primary key (queue_name, group_key)
);

-- A live row as it reads once ended (0014), with 0015's rate columns and group_key appended.
create or replace function {{schema}}.task_ended(t {{schema}}.task, state {{schema}}.task_state, output jsonb, error text,
                                     queue_name text, dlq_from text, finished_at timestamptz)
  returns setof {{schema}}.task_finished language sql stable as $$
  select t.id, $5, $2, t.input, $3, $4, t.attempt, t.max_attempts, t.retry_initial_ms, t.retry_max_ms,
         t.retry_coefficient, t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.ttl_ms, t.priority,
         t.concurrency_key, t.concurrency_limit, t.unique_key, t.run_at, null::timestamptz, t.worker_id, $6,
         t.job_id, t.step_index, t.created_at, t.started_at, $7, t.attempt_budget, t.cancel_requested_at,
         t.trace_context, t.rate_key, t.rate_limited, t.group_key
$$;

-- How a claim of `slots` tasks shares them among groups, taking turns: the
-- groups in key order (`keys`, ascending; the tasks without a group are
-- ''), each taking `weights[i]` tasks per turn. The rotation resumes where
-- the queue's cursor left it: first the rest of `turn_key`'s turn if it
-- took only `turn_used` of its weight, then a turn for each group after it
-- in key order, wrapping around, and so on. Returns each group given tasks
-- with its weight, its `quota`, its `pos` in this claim's rotation (0 for
-- a turn resumed, then 1, 2, …), and where the rotation stops
-- (`last_key`, `last_used`: the cursor to store). Whole rounds are counted,
-- not walked: one pass over the groups however large the claim.
create function {{schema}}.group_turns(keys text[], weights integer[], turn_key text, turn_used integer,
                                       slots integer)
  returns table (group_key text, weight integer, quota integer, pos integer, last_key text, last_used integer)
  language sql immutable rows 10 as $$
  with g as (
    select r.*, sum(r.weight) over (order by r.pos) as cum
      from (select u.key, u.weight,
                   coalesce(u.key = turn_key and coalesce(turn_used, 0) < u.weight, false) as resumed,
                   row_number() over (order by coalesce(u.key <= turn_key, false), u.key) as pos
              from unnest(keys, weights) u(key, weight)) r
  ), head as (
    -- The rest of the turn resumed, as much of it as the claim takes.
    select coalesce(max(least(g.weight - coalesce(turn_used, 0), slots)) filter (where g.resumed), 0) as taken,
           sum(g.weight) as total, count(*) as n
      from g
  ), rounds as (
    select h.taken, (slots - h.taken) / h.total as whole, (slots - h.taken) % h.total as rest, h.n
      from head h
  ), shares as (
    select g.key, g.weight, g.pos, g.resumed,
           case when g.resumed then r.taken else 0 end + r.whole * g.weight
             + greatest(0, least(g.weight, r.rest - (g.cum - g.weight))) as quota,
           -- The group the last slot falls to, and how many of its turn it took.
           case when r.rest > 0 then g.cum - g.weight < r.rest and r.rest <= g.cum
                when r.whole > 0 then g.pos = r.n
                else g.resumed end as stops,
           case when r.rest > 0 then r.rest - (g.cum - g.weight)
                when r.whole > 0 then g.weight
                else coalesce(turn_used, 0) + r.taken end as stopped_at
      from g cross join rounds r
  )
  select s.key, s.weight, s.quota::integer, case when s.resumed then 0 else s.pos::integer end,
         -- Uncorrelated: read once, not once per group.
         (select x.key from shares x where x.stops), (select x.stopped_at::integer from shares x where x.stops)
    from shares s
   where s.quota > 0 and slots > 0
$$;

-- Whether a task comes after the one a group's scan stopped at (none
-- given: any) in the claim's order, priority desc, run_at, id. A plain
-- expression, so the planner inlines it.
create function {{schema}}.task_after(priority integer, run_at timestamptz, id bigint, after_priority integer,
                                      after_run_at timestamptz, after_id bigint)
  returns boolean language sql immutable as $$
  select after_id is null or priority < after_priority
         or (priority = after_priority and (run_at, id) > (after_run_at, after_id))
$$;

-- Whether a concurrency key has room for one more started task: fewer than
-- `lim` started, counted at most to `lim` (db/fragments/keyHasRoom.sql, the
-- plain claim's rule: change both together).
create function {{schema}}.task_key_has_room(queue text, key text, lim integer)
  returns boolean language sql stable as $$
  select count(*) < lim from (
    select 1 from {{schema}}.task r
     where r.queue_name = queue and r.concurrency_key = key and r.state = 'in_progress' and r.started_at is not null
     limit lim) running
$$;

-- The tasks a claim of `slots` takes from a queue whose pending tasks have
-- groups (through task_group_claim, below). Locks them and returns them
-- with their `turn`, their order in the batch: every group's first turn
-- before anyone's second. Nothing when the queue is paused.
--
-- 1. The groups with pending tasks, off task_group_claim_idx one probe
--    each (a loose scan), plus '' for the tasks without a group, each with
--    its weight.
-- 2. group_turns shares the slots out, resuming the rotation where
--    queue.group_turn left it; each group locks its share of its next due
--    tasks (priority desc, run_at, id), with SKIP LOCKED, keys at their
--    limit left out as the plain rule does (task_key_has_room).
-- 3. Slots a group could not fill (fewer due tasks, keys full, rows locked
--    by other claims) go round again among the groups that filled theirs,
--    the rotation going on from where the pass before stopped, each group
--    reading on from the last task it took. At most four passes: each drops
--    the groups that ran dry, and a claim left short is followed by another.
-- 4. Where the rotation stopped becomes queue.group_turn, unless another
--    claim holds the queue's row: it is storing its own, and no claim waits.
--
-- plpgsql rather than part of the claim statement: a per-group LIMIT read
-- from a column is planned as a tenth of the group's rows, which on a large
-- backlog put the statement past jit_above_cost, and JIT compilation then
-- took seconds for a claim that runs in milliseconds. Here each statement
-- is planned apart, with JIT off (no statement of a claim reads more than a
-- few hundred index entries), and once: their generic plans are the ones
-- wanted (the shares are arrays, read by one index scan per group), and
-- planning them again at each claim cost more than running them.
create function {{schema}}.task_group_turns_claim(claim_queue text, slots integer)
  returns table (id bigint, concurrency_key text, concurrency_limit integer, priority integer,
                 run_at timestamptz, turn bigint)
  language plpgsql volatile rows 100
  -- For the function's own statements only (restored on return): see above.
  set jit = off set plan_cache_mode = force_generic_plan as $$
#variable_conflict use_column
declare
  keys text[];
  weights integer[];
  turn_key text;
  turn_used integer;
  -- One pass's shares: group, quota, place in the rotation, weight, and
  -- where the group's scan resumes (its last task taken so far, or null).
  share_keys text[];
  share_quotas integer[];
  share_pos integer[];
  share_weights integer[];
  after_priority integer[];
  after_run_at timestamptz[];
  after_id bigint[];
  stop_key text;
  stop_used integer;
  -- The tasks locked so far: id, group, pass, place in the rotation, weight.
  taken_ids bigint[] := '{}';
  taken_keys text[] := '{}';
  taken_pass integer[] := '{}';
  taken_pos integer[] := '{}';
  taken_weights integer[] := '{}';
  pass integer := 1;
begin
  if exists (select from {{schema}}.queue q where q.name = claim_queue and q.paused_at is not null) then
    return;
  end if;
  -- As the plain rule does (db/fragments/commitAsync.sql): a claim lost in a
  -- crash leaves its tasks pending, which at-least-once delivery allows.
  perform set_config('synchronous_commit', 'off', true);
  with recursive group_keys(key) as (
    (select t.group_key from {{schema}}.task t
      where t.queue_name = claim_queue and t.state = 'pending' and t.group_key is not null
      order by t.group_key limit 1)
    union all
    select (select t.group_key from {{schema}}.task t
             where t.queue_name = claim_queue and t.state = 'pending' and t.group_key > k.key
             order by t.group_key limit 1)
      from group_keys k
     where k.key is not null
  )
  select array_agg(g.key order by g.key), array_agg(coalesce(w.weight, 1) order by g.key)
    into keys, weights
    from (select k.key from group_keys k where k.key is not null
          union all
          -- In the index's order, so that it is planned as one probe of task_claim_idx.
          select '' where (select t.id from {{schema}}.task t
                            where t.queue_name = claim_queue and t.state = 'pending' and t.group_key is null
                            order by t.priority desc, t.run_at, t.id limit 1) is not null) g
    left join {{schema}}.group_weight w on w.queue_name = claim_queue and w.group_key = g.key;
  select q.group_turn, q.group_turn_used into turn_key, turn_used from {{schema}}.queue q where q.name = claim_queue;

  while keys is not null and pass <= 4 loop
    select array_agg(s.group_key), array_agg(s.quota), array_agg(s.pos), array_agg(s.weight),
           min(s.last_key), min(s.last_used)
      into share_keys, share_quotas, share_pos, share_weights, stop_key, stop_used
      from {{schema}}.group_turns(keys, weights, turn_key, turn_used, slots - cardinality(taken_ids)) s;
    exit when share_keys is null;
    select array_agg(l.priority), array_agg(l.run_at), array_agg(l.id)
      into after_priority, after_run_at, after_id
      from unnest(share_keys) with ordinality s(key, n)
      left join lateral (
        select t.priority, t.run_at, t.id
          from unnest(taken_ids, taken_keys) u(id, key) join {{schema}}.task t on t.id = u.id
         where u.key = s.key
         order by t.priority, t.run_at desc, t.id desc limit 1) l on true;
    with locked as (
      select c.id, s.key, s.pos, s.weight
        from unnest(share_keys, share_quotas, share_pos, share_weights, after_priority, after_run_at, after_id)
               s(key, quota, pos, weight, after_priority, after_run_at, after_id)
        cross join lateral (
          select * from (
            select t.id from {{schema}}.task t
             where s.key <> '' and t.queue_name = claim_queue and t.state = 'pending' and t.group_key = s.key
               and {{schema}}.task_after(t.priority, t.run_at, t.id, s.after_priority, s.after_run_at, s.after_id)
               and t.run_at <= now()
               and (t.concurrency_key is null or {{schema}}.task_key_has_room(claim_queue, t.concurrency_key, t.concurrency_limit))
             -- group_key first: only the group's own index has this order, so
             -- the plan cannot walk every group's tasks in task_group_due_idx.
             order by t.group_key, t.priority desc, t.run_at, t.id limit s.quota
             for update skip locked) grouped
          union all
          select * from (
            select t.id from {{schema}}.task t
             where s.key = '' and t.queue_name = claim_queue and t.state = 'pending' and t.group_key is null
               and {{schema}}.task_after(t.priority, t.run_at, t.id, s.after_priority, s.after_run_at, s.after_id)
               and t.run_at <= now()
               and (t.concurrency_key is null or {{schema}}.task_key_has_room(claim_queue, t.concurrency_key, t.concurrency_limit))
             order by t.priority desc, t.run_at, t.id limit s.quota
             for update skip locked) ungrouped
        ) c
    )
    select taken_ids || coalesce(array_agg(l.id), '{}'), taken_keys || coalesce(array_agg(l.key), '{}'),
           taken_pass || coalesce(array_agg(pass), '{}'), taken_pos || coalesce(array_agg(l.pos), '{}'),
           taken_weights || coalesce(array_agg(l.weight), '{}')
      into taken_ids, taken_keys, taken_pass, taken_pos, taken_weights
      from locked l;
    turn_key := stop_key;
    turn_used := stop_used;
    -- A pass that took nothing (its groups' tasks locked by other claims,
    -- their keys full) still hands its slots on to the groups after them.
    exit when cardinality(taken_ids) >= slots;
    -- The next pass shares among the groups that took all they were given.
    select array_agg(g.key order by g.key), array_agg(g.weight order by g.key) into keys, weights
      from unnest(keys, weights) g(key, weight)
      left join unnest(share_keys, share_quotas) s(key, quota) on s.key = g.key
      left join (select u.key, count(*) as n from unnest(taken_keys, taken_pass) u(key, in_pass)
                  where u.in_pass = pass group by u.key) t on t.key = g.key
     where coalesce(s.quota, 0) <= coalesce(t.n, 0);
    pass := pass + 1;
  end loop;

  if turn_key is not null then
    update {{schema}}.queue q set group_turn = turn_key, group_turn_used = turn_used
     where q.name = (select l.name from {{schema}}.queue l where l.name = claim_queue for update skip locked);
  end if;

  return query
    select c.id, c.concurrency_key, c.concurrency_limit, c.priority, c.run_at,
           row_number() over (order by c.pass, (c.rank - 1) / c.weight, c.pos, c.rank)
      from (select t.id, t.concurrency_key, t.concurrency_limit, t.priority, t.run_at, u.pass, u.pos, u.weight,
                   row_number() over (partition by u.pass, u.key order by t.priority desc, t.run_at, t.id) as rank
              from unnest(taken_ids, taken_keys, taken_pass, taken_pos, taken_weights) u(id, key, pass, pos, weight)
              join {{schema}}.task t on t.id = u.id) c;
end;
$$;

-- Where the oldest due task of a queue fell due (0008), over both halves of
-- the claim index.
create or replace function {{schema}}.task_oldest_due(queue text) returns timestamptz language sql stable as $$
  with recursive heads(priority, run_at) as (
    (select t.priority, t.run_at from {{schema}}.task t
      where t.queue_name = queue and t.state = 'pending' and t.group_key is null
      order by t.priority desc, t.run_at, t.id limit 1)
    union all
    select next.priority, next.run_at from heads h cross join lateral (
      select t.priority, t.run_at from {{schema}}.task t
       where t.queue_name = queue and t.state = 'pending' and t.group_key is null and t.priority < h.priority
       order by t.priority desc, t.run_at, t.id limit 1) next
  ), grouped_heads(priority, run_at) as (
    (select t.priority, t.run_at from {{schema}}.task t
      where t.queue_name = queue and t.state = 'pending' and t.group_key is not null
      order by t.priority desc, t.run_at, t.id limit 1)
    union all
    select next.priority, next.run_at from grouped_heads h cross join lateral (
      select t.priority, t.run_at from {{schema}}.task t
       where t.queue_name = queue and t.state = 'pending' and t.group_key is not null and t.priority < h.priority
       order by t.priority desc, t.run_at, t.id limit 1) next
  )
  select min(run_at) from (select run_at from heads union all select run_at from grouped_heads) h
   where run_at <= now()
$$;

-- The claim rule's grouped half (db/fragments/claimGroups.sql calls it at
-- every claim): task_group_turns_claim's tasks when the queue has grouped
-- pending tasks. Most queues have none: one probe of an empty index, and
-- back, without the settings task_group_turns_claim makes for its own
-- statements (changing them on entry and exit costs every call).
create function {{schema}}.task_group_claim(claim_queue text, slots integer)
  returns table (id bigint, concurrency_key text, concurrency_limit integer, priority integer,
                 run_at timestamptz, turn bigint)
  language plpgsql volatile rows 100 as $$
begin
  -- In the index's order, so that it is planned as one probe of it (without
  -- it, a plan for another queue's many grouped tasks walked this queue's
  -- whole backlog through task_queue_state_idx: 160 ms a claim).
  perform from {{schema}}.task t
   where t.queue_name = claim_queue and t.state = 'pending' and t.group_key is not null
   order by t.group_key limit 1;
  if found then
    return query select * from {{schema}}.task_group_turns_claim(claim_queue, slots);
  end if;
end;
$$;
