-- :jobId. Run first in a job's cancel transaction: waits for every
-- statement completing a step of the job (they hold this lock in share
-- mode) and keeps new ones out until commit. The cancel that follows reads
-- in a snapshot taken after this returns, so it sees every step enqueued.
select pg_advisory_xact_lock({{schema}}.task_job_lock_id(:jobId::uuid))
