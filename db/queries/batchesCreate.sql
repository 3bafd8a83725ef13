-- A new batch of :total members of queue :queue, with the user's :context
-- (jsonb, or null) and its callback (:callbackQueue and the callback task's
-- columns as jsonb, or both null for none), kept :ttlMs after it completes.
-- Run in the transaction that inserts its members (batchesEnqueueMembers):
-- no member can end before `total` is written.
insert into {{schema}}.batch (queue_name, total, context, callback_queue, callback, ttl_ms)
values (:queue::text, :total::integer, :context::jsonb, :callbackQueue::text, :callback::jsonb, :ttlMs::bigint)
returning id::text
