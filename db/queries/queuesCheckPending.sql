-- :queue, :definedCap (the definition's maxPending), :adding (the rows it inserted): run by an enqueue of a
-- capped queue after its insert, in its transaction. The cap in force and
-- the pending count, under the queue's cap lock (queue_pending_check, 0018).
select c.cap, c.pending from {{schema}}.queue_pending_check(:queue, :definedCap::integer, :adding::integer) c
