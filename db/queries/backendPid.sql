-- The server process of this session. At connect, run as a named statement
-- on two connections in turn: behind a transaction-mode pooler both may land
-- on one server session, where the second prepare collides (42P05).
select pg_backend_pid() as pid
