-- $1 queues, $2 minute buckets, $3..$7 enqueued, succeeded, failed,
-- retried, cancelled: one client's counts since its last flush, added in
-- one statement.
insert into {{schema}}.queue_stat as s (queue_name, bucket, enqueued, succeeded, failed, retried, cancelled)
select * from unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
on conflict (queue_name, bucket) do update
  set enqueued = s.enqueued + excluded.enqueued,
      succeeded = s.succeeded + excluded.succeeded,
      failed = s.failed + excluded.failed,
      retried = s.retried + excluded.retried,
      cancelled = s.cancelled + excluded.cancelled
