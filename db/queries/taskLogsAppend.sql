-- :taskId, :attempt, :seqs, :ats (epoch ms), :messages, :cutBelow, :base:
-- appends a batch of an attempt's log lines in one statement and deletes its
-- lines numbered :cutBelow or lower (oldest first, past the definition's
-- maxLogLines). Fenced and locked as taskProgressSet (see there): written
-- only while the attempt holds the task; says written, gone or locked.
-- The delete sees the lines of earlier batches only (one snapshot): the
-- caller never sends a line it would cut.
-- A run's lines are numbered from 1 by the worker, and stored after
-- :base: the attempt's last line number before this run. A snoozed attempt
-- runs again under the same attempt number, so its next run must number
-- its lines after the lines of the runs before it (its first write sends
-- :base null, read here off the primary key and returned, and its later
-- writes send it back). Lines already stored (a write retried after its
-- commit) are skipped.
with target as (
  select t.id
    from {{schema}}.task t
   where t.id = :taskId::bigint and t.attempt = :attempt and t.state = 'in_progress'
     for key share skip locked
), base as (
  select coalesce(:base::integer,
                  (select max(l.seq) from {{schema}}.task_log l
                    where l.task_id = :taskId::bigint and l.attempt = :attempt::integer),
                  0) as n
), appended as (
  insert into {{schema}}.task_log (task_id, attempt, seq, at, message)
  select g.id, :attempt, b.n + l.seq, to_timestamp(l.at / 1000.0), l.message
    from target g, base b, unnest(:seqs::integer[], :ats::float8[], :messages::text[]) as l(seq, at, message)
  on conflict (task_id, attempt, seq) do nothing
  returning 1
), cut as (
  delete from {{schema}}.task_log l
   using target g, base b
   where l.task_id = g.id and l.attempt = :attempt and l.seq <= b.n + :cutBelow::integer
  returning 1
)
select case when exists (select 1 from target) then 'written'
            when exists (select 1 from {{schema}}.task t
                          where t.id = :taskId::bigint and t.attempt = :attempt and t.state = 'in_progress')
            then 'locked'
            else 'gone' end as status,
       (select count(*) from appended)::int as appended,
       (select count(*) from cut)::int as cut,
       (select n from base) as base
