-- A concurrency key's slot is taken when a task starts, not when it is
-- claimed. A worker may claim keyed tasks ahead of its free slots
-- (prefetch) without holding their keys: such a task is in progress with
-- started_at null, counts for no key, and takes its key's slot only when
-- the worker starts it (tasksStart sets started_at), admitted by the same
-- trigger as a task started at claim. See docs/design/worker-pipeline.md.

-- Counts started tasks only: a claimed, unstarted task holds no slot.
create or replace function {{schema}}.task_key_admit() returns trigger language plpgsql volatile as $$
declare
  running integer;
  strictest integer;
begin
  if not pg_try_advisory_xact_lock(
       {{schema}}.task_key_lock_id(tg_table_schema, new.queue_name, new.concurrency_key)) then
    return null;
  end if;
  select count(*), least(min(concurrency_limit), new.concurrency_limit) into running, strictest from (
    select r.concurrency_limit from {{schema}}.task r
     where r.queue_name = new.queue_name and r.concurrency_key = new.concurrency_key
       and r.state = 'in_progress' and r.started_at is not null
     limit new.concurrency_limit) capped;
  if running >= coalesce(strictest, new.concurrency_limit) then
    return null;
  end if;
  return new;
end;
$$;

-- Fires when a keyed task starts: claimed and started in one statement
-- (state and started_at set together), or started later (started_at set
-- on a claimed task). A claim that leaves started_at null admits nothing.
drop trigger task_key_admit on {{schema}}.task;
create trigger task_key_admit before update of state, started_at on {{schema}}.task
  for each row
  when (new.concurrency_key is not null and new.state = 'in_progress' and new.started_at is not null
        and (old.state <> 'in_progress' or old.started_at is null))
  execute function {{schema}}.task_key_admit();
