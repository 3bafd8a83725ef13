-- :id, :attempt: whether a cancel was requested for this running attempt
-- (a transactional completion fenced off by a cancel whose NOTIFY has not
-- arrived yet writes the cancel itself rather than leave it to the reaper).
select exists (
  select 1 from {{schema}}.task
   where id = :id and attempt = :attempt and state = 'in_progress' and cancel_requested_at is not null
) as requested
