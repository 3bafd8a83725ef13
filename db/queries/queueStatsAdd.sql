-- :queues, :buckets minute buckets, :enqueued..:cancelled enqueued, succeeded, failed,
-- retried, cancelled: one client's counts since its last flush, added in
-- one statement.
insert into {{schema}}.queue_stat as s (queue_name, bucket, enqueued, succeeded, failed, retried, cancelled)
select * from unnest(:queues::text[], :buckets::timestamptz[], :enqueued::bigint[], :succeeded::bigint[], :failed::bigint[], :retried::bigint[], :cancelled::bigint[])
on conflict (queue_name, bucket) do update
  set enqueued = s.enqueued + excluded.enqueued,
      succeeded = s.succeeded + excluded.succeeded,
      failed = s.failed + excluded.failed,
      retried = s.retried + excluded.retried,
      cancelled = s.cancelled + excluded.cancelled
