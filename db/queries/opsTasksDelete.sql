-- $1 after this id, $2 batch size. {{where}}: the filter with the states
-- it may delete, its parameters from $3. Deletes a batch with its attempts,
-- events, progress and log lines. Which states may go is decided by the caller: finished ones
-- unless the filter names pending or in_progress. A batch is the first $2
-- ids past $1 of both tables (task and task_finished; each locked apart,
-- as FOR UPDATE cannot read through task_all's UNION ALL). A live task
-- deleted ends without reaching task_finished: when it is a member of a
-- batch it is counted as cancelled (batch_ended of 0021_batches.sql, counted
-- at the commit), which may complete its batch.
with live as (
  select t.id
    from {{schema}}.task t
   where t.id > $1::bigint and {{where}}
   order by t.id
   limit $2
   for update skip locked
), done as (
  select t.id
    from {{schema}}.task_finished t
   where t.id > $1::bigint and {{where}}
   order by t.id
   limit $2
   for update skip locked
), chosen as (
  select id from (select id from live union all select id from done) both_tables order by id limit $2
), attempts as (
  delete from {{schema}}.task_attempt a using chosen c where a.task_id = c.id
), events as (
  delete from {{schema}}.task_event v using chosen c where v.task_id = c.id
), progress as (
  delete from {{schema}}.task_progress p using chosen c where p.task_id = c.id
), logs as (
  delete from {{schema}}.task_log l using chosen c where l.task_id = c.id
), deleted_live as (
  delete from {{schema}}.task t using chosen c where t.id = c.id returning t.id, t.batch_id
), batch_ends as (
  select {{schema}}.batch_ended(d.batch_id, 0, 0, d.ended, null)
    from (select l.batch_id, count(*)::integer as ended
            from deleted_live l where l.batch_id is not null
           group by l.batch_id) d
), deleted_done as (
  delete from {{schema}}.task_finished t using chosen c where t.id = c.id returning t.id
)
select (select max(id) from chosen)::text as "lastId",
       (select count(*) from chosen)::int as matched,
       ((select count(*) from deleted_live) + (select count(*) from deleted_done))::int as changed,
       -- Read, so that batch_ends runs (a plain SELECT in a CTE runs only when read).
       (select count(*) from batch_ends)::int as "batchesCounted"
