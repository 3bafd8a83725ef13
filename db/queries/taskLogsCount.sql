-- :id: how many log lines a task's attempts keep (task_log's primary key).
select count(*)::int as count from {{schema}}.task_log where task_id = :id::bigint
