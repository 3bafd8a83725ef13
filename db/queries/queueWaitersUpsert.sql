-- :queue, :workerId, :ttlMs ms until the registration lapses: this worker
-- found the queue empty and waits for inserts to NOTIFY it. Lapsed
-- registrations of workers that exited without unregistering (killed,
-- crashed) are deleted on the way, of any queue; SKIP LOCKED, so two workers
-- registering at once never wait on each other over them.
with lapsed as (
  delete from {{schema}}.queue_waiter
   where (queue_name, worker_id) in (select queue_name, worker_id from {{schema}}.queue_waiter
                                      where expires_at < now()
                                        and (queue_name, worker_id) <> (:queue, :workerId)
                                      for update skip locked)
)
insert into {{schema}}.queue_waiter (queue_name, worker_id, expires_at)
values (:queue, :workerId, now() + :ttlMs * interval '1 millisecond')
on conflict (queue_name, worker_id) do update set expires_at = excluded.expires_at
