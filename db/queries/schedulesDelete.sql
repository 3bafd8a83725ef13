-- $1 queue. Returns the row if there was one.
delete from {{schema}}.schedule where queue_name = $1 returning queue_name
