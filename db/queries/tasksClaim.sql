-- Claims up to :limit tasks of :queue for :workerId; keyed tasks (and those
-- of a rate-limited queue) past the first :startable of the batch are
-- claimed unstarted, taking their key's slot and their rate budget's start
-- only when the worker starts them (tasksStart). The rule is the function
-- task_claim (db/migrations/0022_claim_function.sql, which argues it): a
-- function so that its plan is made once per session, not at every claim
-- (docs/design/claim-function.md). It commits without waiting for the WAL
-- flush: a claim lost in a server crash leaves the task pending, to be
-- claimed again, which at-least-once delivery allows (docs/reliability.md).
select * from {{schema}}.task_claim(:queue, :limit, :workerId, :startable)
