-- Claims up to :limit tasks of :queue for :workerId. Candidates in priority
-- order, locked with SKIP LOCKED so concurrent claims never wait on each
-- other. Per concurrency key, at most its limit of the batch are tried (the
-- task_key_admit trigger makes the exact check under the key's lock), and
-- keys already at their limit (counted in this statement's snapshot, a hint:
-- db/fragments/keyHasRoom.sql) are left out so they cannot crowd out others.
-- A paused queue yields nothing (one look-up of its row per claim). Keyed
-- tasks past the first :startable of the batch (those that cannot start at
-- once: prefetch) are claimed unstarted, started_at null: they take their
-- key's slot only when the worker starts them (tasksStart), so they hold no
-- key meanwhile. The rule is db/fragments/claimCandidates.sql and
-- claimUpdate.sql, shared with tasksCompleteAndClaim.
-- Committed without waiting for the WAL flush (db/fragments/commitAsync.sql):
-- a claim lost in a server crash leaves the task pending, to be claimed
-- again, which at-least-once delivery allows. See docs/reliability.md.
with {{> claimCandidates}}
{{> claimUpdate}}
