-- :queue. Returns the row if there was one.
delete from {{schema}}.schedule where queue_name = :queue returning queue_name
