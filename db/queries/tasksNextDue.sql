-- :queue, :lookBackMs (ms). How long until the queue's next pending task
-- falls due, measured on the database clock (a worker's clock may be skewed),
-- or null when nothing is waiting for its time. Rows that fell due within the
-- look-back count (as 0 ms): they may have fallen due after the claim that
-- preceded this read started, so that claim could not take them. Rows
-- already due whose concurrency key is at its limit are left out, as the
-- claim leaves them out (the same rule, db/fragments/keyHasRoom.sql): counting them would wake the worker in a loop.
--
-- A rate-limited queue: rows whose budget is spent are left out the same
-- way (rate_has_room, db/migrations/0015_rate_limits.sql; the queue's own
-- budget read once), and the earliest time a spent budget allows a start
-- again (rate_budget.free_at, off its index) counts as a due time: the
-- tasks it holds back start then. Rows due for longer than the look-back
-- are not counted, as for any queue: a claim that left them with room in
-- their budget lost its try-lock to another claim, which goes on claiming;
-- counting them would spin this worker for as long as someone held the
-- lock (measured: 64 claims a second against a lock held 2 s).
--
-- task_claim_idx orders by priority before run_at, so a plain min(run_at)
-- would read every pending row of the queue. Instead a loose index scan
-- walks the distinct priorities (one probe each) and takes the first future
-- run_at within each: the cost grows with the number of priorities in use,
-- not with the backlog, and the enqueue path needs no extra index. Tasks
-- with a group are in another index (task_group_due_idx, same order): the
-- walk runs over each half.
with recursive priorities(priority) as (
  (select priority from {{schema}}.task
    where queue_name = :queue and state = 'pending' and group_key is null
    order by priority desc limit 1)
  union all
  select (select t.priority from {{schema}}.task t
           where t.queue_name = :queue and t.state = 'pending' and t.group_key is null and t.priority < p.priority
           order by t.priority desc limit 1)
    from priorities p
   where p.priority is not null
), group_priorities(priority) as (
  -- The same walk over the grouped tasks (their own half of the claim
  -- index, task_group_due_idx: db/migrations/0016_groups.sql).
  (select priority from {{schema}}.task
    where queue_name = :queue and state = 'pending' and group_key is not null
    order by priority desc limit 1)
  union all
  select (select t.priority from {{schema}}.task t
           where t.queue_name = :queue and t.state = 'pending' and t.group_key is not null and t.priority < p.priority
           order by t.priority desc limit 1)
    from group_priorities p
   where p.priority is not null
), next_due as (
  select min(first.run_at) as run_at from (
    select first.run_at
      from priorities p
      cross join lateral (
        select t.run_at from {{schema}}.task t
         where t.queue_name = :queue and t.state = 'pending' and t.group_key is null and t.priority = p.priority
           and t.run_at > now() - :lookBackMs * interval '1 millisecond'
           and (t.run_at > now()
                or (t.concurrency_key is null or {{> keyHasRoom}})
                   and (t.rate_key is not null or (select {{schema}}.rate_has_room(:queue, '')))
                   and {{> rateKeyHasRoom}})
         order by t.run_at limit 1
      ) first
     where p.priority is not null
    union all
    select first.run_at
      from group_priorities p
      cross join lateral (
        select t.run_at from {{schema}}.task t
         where t.queue_name = :queue and t.state = 'pending' and t.group_key is not null and t.priority = p.priority
           and t.run_at > now() - :lookBackMs * interval '1 millisecond'
           and (t.run_at > now()
                or (t.concurrency_key is null or {{> keyHasRoom}})
                   and (t.rate_key is not null or (select {{schema}}.rate_has_room(:queue, '')))
                   and {{> rateKeyHasRoom}})
         order by t.run_at limit 1
      ) first
     where p.priority is not null
  ) first
), rate_free as (
  select min(b.free_at) as free_at from {{schema}}.rate_budget b
   -- A queue without a limit has no budget with a free_at (rate_refresh clears them).
   where b.queue_name = :queue and b.free_at > now()
)
-- Null when nothing waits (greatest() alone would turn null into 0), or
-- when the queue is paused (its resume NOTIFYs the workers).
select case when coalesce(n.run_at, r.free_at) is null
              or exists (select 1 from {{schema}}.queue q where q.name = :queue and q.paused_at is not null)
            then null
            else greatest(0, ceil(extract(epoch from least(n.run_at, r.free_at) - now()) * 1000))::float8 end as wait_ms
  from next_due n cross join rate_free r
