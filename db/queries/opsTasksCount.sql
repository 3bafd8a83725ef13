-- $1 at most this many (null: all). {{where}}: the filter, its parameters
-- from $2. What a bulk action's dry run would touch.
select count(*)::float8 as count
  from (select 1 from {{schema}}.task_all t where {{where}} limit $1) matching
