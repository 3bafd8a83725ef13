-- :id a batch with no members: completes it now and enqueues its callback
-- (batch_count of 0021_batches.sql, with nothing to count: 0 ends reach a
-- total of 0). A batch with members is completed by its last member's end.
select {{schema}}.batch_count(:id::bigint, 0, 0, 0, null)
