-- Whether the trigram index on task.error (migration 0013) exists and is
-- usable: a role that could not install pg_trgm has none, and a CREATE
-- INDEX CONCURRENTLY that failed leaves an invalid one. Without it an
-- error search across queues is a bounded walk instead (opsTasksWalk.sql).
-- One on each table (migration 0014 adds task_finished's): both must be.
select coalesce((select i.indisvalid from pg_index i
                  where i.indexrelid = to_regclass('{{schema}}.task_error_trgm_idx')), false)
   and coalesce((select i.indisvalid from pg_index i
                  where i.indexrelid = to_regclass('{{schema}}.task_finished_error_trgm_idx')), false) as present
