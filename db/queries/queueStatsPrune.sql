-- $1 keep this many days. Drops old throughput buckets.
delete from {{schema}}.queue_stat where bucket < now() - $1::int * interval '1 day'
