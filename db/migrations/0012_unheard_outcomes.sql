-- task_changed NOTIFYs outcome listeners of a task's final state, after
-- looking for one (a PL/pgSQL call and a query per row, a seventh of a
-- completion statement's time with nobody listening; docs/performance.md).
-- A completion statement now looks once for all its rows and, when nobody
-- listens, sets underway.unheard to this schema for its transaction; the
-- trigger's WHEN then skips the call. Statements that do not set it (retry,
-- failure, cancel) still have the trigger look per row, as before.
drop trigger task_changed on {{schema}}.task;

create trigger task_changed after update of state on {{schema}}.task
  for each row
  when (old.state is distinct from new.state
        and (new.state in ('succeeded', 'failed', 'cancelled')
             -- a retry; a release at shutdown gives the attempt back and is no outcome
             or (old.state = 'in_progress' and new.state = 'pending' and new.attempt = old.attempt))
        and current_setting('underway.unheard', true) is distinct from '{{schema}}')
  execute function {{schema}}.task_changed();
