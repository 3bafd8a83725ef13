-- :queue. Enqueues the schedule's task now, outside its cron: the stored
-- input, with the options (retries, timeout, priority, keys...) of the task
-- its latest tick enqueued or, before any tick, of the queue's newest task
-- (one probe per state of task_queue_state_idx), since only the job's
-- definition knows them and the dashboard has none. Nothing when there is
-- no task to copy, or when a live task holds its unique key (on conflict,
-- as enqueue does). Not a tick: the cron's own runs are unchanged.
with model as (
  select coalesce(
    (select k.task_id from {{schema}}.schedule_tick k
      where k.queue_name = :queue and k.task_id is not null
        and exists (select 1 from {{schema}}.task_all t where t.id = k.task_id)
      order by k.tick_at desc limit 1),
    (select max(n.id) from unnest(enum_range(null::{{schema}}.task_state)) st(state)
       cross join lateral (
         select t.id from {{schema}}.task_all t where t.queue_name = :queue and t.state = st.state
          order by t.queue_name, t.state, t.id desc limit 1) n)
  ) as id
)
insert into {{schema}}.task (
  queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient, retry_jitter,
  timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, concurrency_limit, unique_key,
  rate_key, job_id, step_index, group_key)
select s.queue_name, s.input, t.max_attempts, t.retry_initial_ms, t.retry_max_ms, t.retry_coefficient,
       t.retry_jitter, t.timeout_ms, t.heartbeat_ms, t.ttl_ms, t.priority, t.concurrency_key,
       t.concurrency_limit, t.unique_key, t.rate_key,
       case when t.job_id is not null then gen_random_uuid() end,
       case when t.job_id is not null then 0 end, t.group_key
  from {{schema}}.schedule s
  join model m on true
  join {{schema}}.task_all t on t.id = m.id
 where s.queue_name = :queue
on conflict (queue_name, unique_key) where unique_key is not null
do nothing
returning id::text
