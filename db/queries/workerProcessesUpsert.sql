-- $1 id, $2 host, $3 pid, $4 queues (JSON), $5 seconds after which a row is
-- dead. One client's heartbeat; prunes rows of processes long dead.
with pruned as (
  delete from {{schema}}.worker_process where heartbeat_at < now() - $5::int * interval '1 second' and id <> $1
)
insert into {{schema}}.worker_process (id, host, pid, queues)
values ($1, $2, $3, $4::jsonb)
on conflict (id) do update set queues = excluded.queues, heartbeat_at = now()
