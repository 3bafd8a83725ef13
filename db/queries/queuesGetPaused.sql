-- :queue: when it was paused, or no row / null when it is not.
select paused_at as "pausedAt" from {{schema}}.queue where name = :queue
