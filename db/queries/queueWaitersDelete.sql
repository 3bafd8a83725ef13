-- :queue, :workerId: this worker is busy (or stopping); inserts need not notify it.
delete from {{schema}}.queue_waiter where queue_name = :queue and worker_id = :workerId
