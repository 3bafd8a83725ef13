-- $1 after this id, $2 batch size, $3 the cancel channel. {{where}}: the
-- filter, its parameters from $4. tasksCancel.sql's semantics for a batch:
-- a pending task becomes cancelled at once; a running one is marked
-- cancel-requested (it keeps its concurrency key's slot until its handler
-- ends; trigger task_cancel_wins ends it cancelled) and announced on the
-- cancel channel so the worker running it fires its AbortSignal. A running
-- task already cancel-requested is not matched again. A task this makes
-- cancelled moves to task_finished (trigger task_finish, migration 0014).
with chosen as (
  select t.id
    from {{schema}}.task t
   where t.id > $1::bigint and {{where}}
     and (t.state = 'pending' or (t.state = 'in_progress' and t.cancel_requested_at is null))
   order by t.id
   limit $2
   for update skip locked
), changed as (
  update {{schema}}.task t
     set state = case when t.state = 'pending' then 'cancelled' else t.state end,
         finished_at = case when t.state = 'pending' then now() else t.finished_at end,
         error = case when t.state = 'pending' then 'cancelled' else t.error end,
         cancel_requested_at = case when t.state = 'in_progress' then coalesce(t.cancel_requested_at, now()) end
    from chosen c
   where t.id = c.id and t.state in ('pending', 'in_progress')
  returning t.queue_name, t.state = 'cancelled' as cancelled,
            case when t.state = 'in_progress' then pg_notify($3::text, t.id::text) end as notified
)
select (select max(id) from chosen)::text as "lastId",
       (select count(*) from chosen)::int as matched,
       coalesce((select jsonb_agg(jsonb_build_object('queue', queue_name, 'cancelled', cancelled)) from changed),
                '[]'::jsonb) as changed
