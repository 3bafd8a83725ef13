-- Retention and dead-letter redrive. `{{schema}}` is replaced by the
-- validated, quoted schema identifier before this file runs.

-- The retry policy's maxAttempts, kept apart once a redrive has raised
-- max_attempts past it. Null until the first redrive, while max_attempts
-- still holds it: the enqueue path writes nothing more, and adding a
-- nullable column without a default rewrites no rows.
alter table {{schema}}.task add column attempt_budget integer;

-- What happened to a task besides its attempts (a redrive, for now). Kept
-- apart from task_attempt, whose rows are executions keyed by attempt
-- number: a redrive is not one. See docs/design/redrive-history.md.
create table {{schema}}.task_event (
  id bigint generated always as identity primary key,
  task_id bigint not null,
  kind text not null,
  -- The task's attempt number when it happened, so events sort among attempts.
  attempt integer not null,
  at timestamptz not null default now(),
  details jsonb not null default '{}'::jsonb
);

create index task_event_task_idx on {{schema}}.task_event (task_id, id);

-- When a finished task may be deleted. Immutable although timestamptz +
-- interval is only stable in general: an interval of pure milliseconds has
-- no day or month part, so the sum never depends on the time zone.
create function {{schema}}.task_expires_at(finished_at timestamptz, ttl_ms bigint) returns timestamptz
  language sql immutable parallel safe
  as $$ select finished_at + ttl_ms * interval '1 millisecond' $$;

-- The sweep reads expired tasks in expiry order straight off this index, so
-- finished tasks with long ttls never have to be scanned past, however many
-- there are or however mixed the ttls.
create index task_expiry_idx on {{schema}}.task ({{schema}}.task_expires_at(finished_at, ttl_ms))
  where state in ('succeeded', 'failed', 'cancelled');
