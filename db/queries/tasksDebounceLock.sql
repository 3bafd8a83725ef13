-- :queue, :keys: takes the debounce lock of each key (held to commit), in
-- key order, so that two enqueues of overlapping keys in other orders
-- (enqueueMany) cannot deadlock.
select count(pg_advisory_xact_lock({{schema}}.debounce_lock_id(:queue, k.key)))::integer as locked
  from (select distinct unnest(:keys::text[]) as key order by 1) k
