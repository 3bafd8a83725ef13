-- A failed attempt keeps the thrown error's name and stack beside its message
-- (`error`). Null for attempts recorded before, and for attempts that did not
-- end in the handler (a lost lease, a cancel). Nullable without a default:
-- adding them rewrites no rows.
alter table {{schema}}.task_attempt
  add column error_name text,
  add column error_stack text;
