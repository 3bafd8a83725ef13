-- Retention of 1M finished rows: the current design's sweep (a DELETE in
-- expiry order, here the whole set in batches of 10,000 like
-- tasksDeleteExpired) against B's DETACH PARTITION CONCURRENTLY + DROP.
-- Run after measure.ts left sb_current and sb_b filled with 1M rows:
--   psql postgres://postgres@127.0.0.1:5432/storage_bench -f benchmarks/storage/retention.sql
\timing on
-- Current: one batch of the sweep, measured; the WAL of a million is 100x this.
explain (analyze, buffers, wal, costs off)
with expired as (
  select id from sb_current.task
   where state in ('succeeded', 'failed', 'cancelled') and queue_name = 'old'
   order by sb_current.task_expires_at(finished_at, ttl_ms)
   limit 10000
   for update skip locked
), attempts as (
  delete from sb_current.task_attempt a using expired e where a.task_id = e.id
), events as (
  delete from sb_current.task_event v using expired e where v.task_id = e.id
)
delete from sb_current.task t using expired e where t.id = e.id;

-- B: the partition holding the oldest expiries of the filled rows (today + 7
-- days), detached without blocking inserts (completions), then dropped.
select 'task_finished_' || to_char(current_date + 7, 'YYYYMMDD') as part \gset
select count(*) as rows_in_partition, pg_size_pretty(pg_total_relation_size('sb_b.' || :'part')) as size
  from sb_b.:part;
select pg_current_wal_insert_lsn() as before \gset
alter table sb_b.task_finished detach partition sb_b.:part concurrently;
drop table sb_b.:part;
-- Cluster-wide (other databases' writes count too): an upper bound.
select pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), :'before')) as cluster_wal_during_drop;
