-- The key-counting rule: whether task `t`'s concurrency key has fewer than
-- its limit of started tasks ("how many started tasks hold this key": in
-- progress and started_at set; claimed-unstarted prefetched tasks hold no
-- slot). Counts at most the limit, so a busy key costs no more than that.
-- Read in the statement's snapshot, it is a hint that keeps full keys from
-- crowding out others; the exact check is the task_key_admit trigger
-- (db/migrations/0011_key_admit_at_start.sql), which mirrors this rule under
-- the key's lock: change both together, and the claim, function task_claim
-- (db/migrations/0022_claim_function.sql, replaced by
-- 0024_claim_fast_path.sql), which has its own copies (one per statement):
-- a change to them is a new migration that replaces the two functions.
(select count(*) from (
   select 1 from {{schema}}.task r
    where r.queue_name = t.queue_name and r.concurrency_key = t.concurrency_key
      and r.state = 'in_progress' and r.started_at is not null
    limit t.concurrency_limit) running) < t.concurrency_limit
