-- Cron schedules: one per queue. Every process may run a scheduler; the
-- primary key of schedule_tick makes exactly one of them enqueue each tick,
-- so no leader is elected and a dead process cannot stall a schedule.

-- Changes version: a scheduler that acts on an old version (it has not seen
-- a change yet) is refused, and no stale reader can match a re-created
-- schedule, because versions never repeat across queues or re-creations.
create sequence {{schema}}.schedule_version;

create table {{schema}}.schedule (
  queue_name text primary key,
  -- The cron expression and the IANA zone its wall-clock times are read in,
  -- both validated by the client before they are written.
  cron text not null,
  time_zone text not null,
  -- The task input, already encoded by the queue's codec.
  input jsonb not null,
  catch_up boolean not null default false,
  version bigint not null default nextval('{{schema}}.schedule_version'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- The latest tick enqueued; where a catching-up scheduler resumes.
  last_tick_at timestamptz
);

-- One row per tick that was enqueued. Not tied to the schedule row by a
-- foreign key: after an unschedule and a quick reschedule, the ticks already
-- done must still be refused. Rows older than the tick horizon (7 days, see
-- scheduleTicksInsert.sql) are pruned, and ticks that old are never inserted.
create table {{schema}}.schedule_tick (
  queue_name text not null,
  tick_at timestamptz not null,
  task_id bigint,
  created_at timestamptz not null default now(),
  primary key (queue_name, tick_at)
);

-- Running schedulers re-read their schedule when it changes, so a change
-- takes effect without a restart. Recording a tick (last_tick_at) is not a
-- change and does not notify.
create function {{schema}}.schedule_changed() returns trigger language plpgsql as $$
begin
  perform pg_notify(tg_table_schema || '.schedule',
                    case when tg_op = 'DELETE' then old.queue_name else new.queue_name end);
  return null;
end;
$$;

create trigger schedule_changed after insert or delete or update of cron, time_zone, input, catch_up, version
  on {{schema}}.schedule
  for each row execute function {{schema}}.schedule_changed();
