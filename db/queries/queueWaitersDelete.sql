-- $1 queue, $2 worker id: this worker is busy (or stopping); inserts need not notify it.
delete from {{schema}}.queue_waiter where queue_name = $1 and worker_id = $2
