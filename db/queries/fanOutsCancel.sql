-- :jobId, :queue (null: the job's, whatever its queue). The waiting fan-out of a job being cancelled, if any
-- (fan_out_cancel of 0023_fan_in.sql): its live children cancelled and its
-- next step written cancelled. Run in the job's cancel transaction after
-- tasksLockJob and before tasksCancel (see there why in that order). How
-- many tasks it cancelled (children and the next step; 0: none waiting).
select {{schema}}.fan_out_cancel(:jobId::uuid, :queue::text) as cancelled
