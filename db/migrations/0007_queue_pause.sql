-- Queue pause: a paused queue is not claimed by any process (running tasks
-- finish), and it stays paused across restarts until resumed. Nullable
-- without default: adding it rewrites no rows.
alter table {{schema}}.queue add column paused_at timestamptz;
