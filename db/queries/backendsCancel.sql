-- :pid a backend's pid: cancels the query it is running, if any. Used on the
-- connection of an aborted transactional handler, whose query may still be
-- running (and holding locks) after the worker gave up on it.
select pg_cancel_backend(:pid::integer) as cancelled
