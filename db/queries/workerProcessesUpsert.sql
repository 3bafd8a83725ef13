-- :id, :host, :pid, :queues (JSON), :deadAfterSeconds seconds after which a row is
-- dead. One client's heartbeat; prunes rows of processes long dead.
with pruned as (
  delete from {{schema}}.worker_process where heartbeat_at < now() - :deadAfterSeconds::int * interval '1 second' and id <> :id
)
insert into {{schema}}.worker_process (id, host, pid, queues)
values (:id, :host, :pid, :queues::jsonb)
on conflict (id) do update set queues = excluded.queues, heartbeat_at = now()
