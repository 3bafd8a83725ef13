-- :id, :attempt (null: every attempt): a task's log lines, by attempt and
-- line, with each attempt's count of lines cut (lines logged, max(seq),
-- less lines kept). Served by task_log's primary key.
select l.attempt, l.seq, l.at, l.message,
       (max(l.seq) over (partition by l.attempt) - count(*) over (partition by l.attempt))::int as cut
  from {{schema}}.task_log l
 where l.task_id = :id::bigint and (:attempt::integer is null or l.attempt = :attempt::integer)
 order by l.attempt, l.seq
