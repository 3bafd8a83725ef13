-- :keepDays keep this many days. Drops old throughput buckets.
delete from {{schema}}.queue_stat where bucket < now() - :keepDays::int * interval '1 day'
