-- :limit batch size. Deletes completed batches whose ttl has passed since
-- they completed, off batch_expiry_idx; a batch still waiting for members is
-- never in it. SKIP LOCKED as tasksDeleteExpired.sql: sweepers share the work.
with expired as (
  select id
    from {{schema}}.batch
   where completed_at is not null and {{schema}}.task_expires_at(completed_at, ttl_ms) < now()
   order by {{schema}}.task_expires_at(completed_at, ttl_ms)
   limit :limit
   for update skip locked
)
delete from {{schema}}.batch b
 using expired e
 where b.id = e.id
returning b.id::text
