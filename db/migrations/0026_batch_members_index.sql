-- A batch's members, listable: ops.tasks({ batchId }), `underway tasks list
-- --batch <id>` and the dashboard's task list read them off these indexes,
-- in id order, live and finished alike (the view task_all is the union of
-- both tables). Partial: a task of no batch (every task but batch members
-- and fan-out children) adds no entry. Built inside the migration's
-- transaction: on a large task_finished, create them by hand with CREATE
-- INDEX CONCURRENTLY first (this file skips them then).
create index if not exists task_batch_idx on {{schema}}.task (batch_id, id) where batch_id is not null;
create index if not exists task_finished_batch_idx on {{schema}}.task_finished (batch_id, id)
  where batch_id is not null;
