-- :queue or null (every queue), :since. Throughput per queue and minute, oldest first.
select queue_name as queue, bucket as at, enqueued::float8 as enqueued, succeeded::float8 as succeeded,
       failed::float8 as failed, retried::float8 as retried, cancelled::float8 as cancelled
  from {{schema}}.queue_stat
 where (:queue::text is null or queue_name = :queue::text) and bucket >= :since::timestamptz
 order by bucket, queue_name
