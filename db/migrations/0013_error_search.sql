-- (branch search) Error search across all queues, off a trigram index.
-- `errorLike` is an ILIKE '%…%'; without an index a search across every
-- queue of a large table read every unfinished row (seconds, or the
-- dashboard's 503). A GIN index of pg_trgm's gin_trgm_ops on `error` answers
-- any pattern with a trigram in it (3 letters or digits in a row) from the
-- index. See docs/operations.md ("Searching by error text and input").
--
-- Partial (`error is not null`): an enqueue, a claim and a success write no
-- error, so they never touch this index; only writes that set an error (a
-- retry, a failure, a cancel) pay for it, measured in docs/operations.md.
--
-- pg_trgm ships with PostgreSQL and is a trusted extension (PostgreSQL 13+):
-- a role with CREATE on the database may install it. An extension exists
-- once per database, so where it is already installed (any schema) that is
-- used, its operator class named with its schema, whatever the search_path.
-- Otherwise it is installed where CREATE EXTENSION puts it by default (the
-- first schema of the search_path, usually `public`), as an administrator
-- doing it by hand would: not in underway's schema, where dropping that
-- schema would take the application's own trigram indexes with it.
--
-- A role that may not install it, or a server without it (some managed
-- databases allow-list extensions), skips the index with a NOTICE and the
-- migration succeeds: the search then reads a bounded window of the newest
-- tasks per request instead (src/ops/taskPage.ts), and the index can be
-- added by hand later under the same name (docs/operations.md).
--
-- Built inside the migration's transaction, which blocks writes to task
-- while it builds: on a large table create it first by hand with CREATE
-- INDEX CONCURRENTLY (same name, `if not exists` then skips it here).
do $$
declare
  trgm_schema name;
begin
  select n.nspname into trgm_schema
    from pg_extension e join pg_namespace n on n.oid = e.extnamespace
   where e.extname = 'pg_trgm';
  if trgm_schema is null then
    begin
      create extension if not exists pg_trgm;
    exception
      when insufficient_privilege or undefined_file or feature_not_supported or invalid_schema_name then
        raise notice 'underway: pg_trgm could not be installed (%: %); error search across queues reads a bounded window of the newest tasks instead of an index',
          sqlstate, sqlerrm;
        return;
    end;
    select n.nspname into trgm_schema
      from pg_extension e join pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'pg_trgm';
  end if;
  begin
    execute format(
      'create index if not exists task_error_trgm_idx on {{schema}}.task using gin (error %I.gin_trgm_ops) where error is not null',
      trgm_schema);
  exception
    -- pg_trgm installed in a schema this role may not use.
    when insufficient_privilege then
      raise notice 'underway: no trigram index on task.error (%: %); error search across queues reads a bounded window of the newest tasks instead',
        sqlstate, sqlerrm;
  end;
end
$$;
