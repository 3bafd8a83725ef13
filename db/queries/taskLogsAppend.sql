-- :taskId, :attempt, :seqs, :ats (epoch ms), :messages, :cutBelow: appends
-- a batch of an attempt's log lines in one statement and deletes its lines
-- numbered :cutBelow or lower (oldest first, past the definition's
-- maxLogLines). Fenced and locked as taskProgressSet (see there): written
-- only while the attempt holds the task; says written, gone or locked.
-- The delete sees the lines of earlier batches only (one snapshot): the
-- caller never sends a line it would cut.
with target as (
  select t.id
    from {{schema}}.task t
   where t.id = :taskId::bigint and t.attempt = :attempt and t.state = 'in_progress'
     for key share skip locked
), appended as (
  insert into {{schema}}.task_log (task_id, attempt, seq, at, message)
  select g.id, :attempt, l.seq, to_timestamp(l.at / 1000.0), l.message
    from target g, unnest(:seqs::integer[], :ats::float8[], :messages::text[]) as l(seq, at, message)
  returning 1
), cut as (
  delete from {{schema}}.task_log l
   using target g
   where l.task_id = g.id and l.attempt = :attempt and l.seq <= :cutBelow::integer
  returning 1
)
select case when exists (select 1 from target) then 'written'
            when exists (select 1 from {{schema}}.task t
                          where t.id = :taskId::bigint and t.attempt = :attempt and t.state = 'in_progress')
            then 'locked'
            else 'gone' end as status,
       (select count(*) from appended)::int as appended,
       (select count(*) from cut)::int as cut
