-- The success write, second half: the CTE `finished`, which puts each row
-- deleted by `done` (successesFenced, returning `t` and `result`) into
-- task_finished (docs/design/storage-v2.md). A row whose cancel was
-- requested ends cancelled instead (task_succeeded; trigger
-- task_finished_inserted records its attempt).
finished as (
  insert into {{schema}}.task_finished
  select f.* from done d cross join lateral {{schema}}.task_succeeded(d.t, d.result, now()) f
)
