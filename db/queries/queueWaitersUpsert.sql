-- $1 queue, $2 worker id, $3 ms until the registration lapses: this worker
-- found the queue empty and waits for inserts to NOTIFY it.
insert into {{schema}}.queue_waiter (queue_name, worker_id, expires_at)
values ($1, $2, now() + $3 * interval '1 millisecond')
on conflict (queue_name, worker_id) do update set expires_at = excluded.expires_at
