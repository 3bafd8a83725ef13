-- :queue, :keys unique keys: the live tasks holding them (task holds live tasks only) (enqueue de-duplication).
select id::text, unique_key, job_id::text from {{schema}}.task
 where queue_name = :queue and unique_key = any(:keys::text[])
