-- The commit preamble: a predicate, true, that sets synchronous_commit off
-- for this transaction only, so its commit does not wait for the WAL flush.
-- Set inside the statement (first in its WHERE, so it runs before any row is
-- written), it costs no round trip. Only for writes whose loss in a server
-- crash at most makes a task run again, which at-least-once delivery allows
-- (docs/reliability.md).
(select set_config('synchronous_commit', 'off', true)) = 'off'
