-- :id one batch, as ops.batch(id) shows it: its counts, the first 1,000
-- members that failed, its context and callback. No row: no such batch (or
-- deleted by retention). The members still to end are total minus the
-- ended: read off the counters, not by counting members (the members'
-- index, 0026, serves listing them; counting a large batch's would read
-- them all).
select b.id::text, b.queue_name as queue, b.total, b.succeeded, b.failed, b.cancelled,
       array(select f.id::text from unnest(b.failed_ids) with ordinality f(id, n) order by f.n) as "failedIds",
       b.context, b.callback_queue as "callbackQueue", b.callback_task_id::text as "callbackTaskId",
       b.ttl_ms::float8 as "ttlMs", b.created_at as "createdAt", b.completed_at as "completedAt",
       {{schema}}.task_expires_at(b.completed_at, b.ttl_ms) as "expiresAt"
  from {{schema}}.batch b
 where b.id = :id::bigint
