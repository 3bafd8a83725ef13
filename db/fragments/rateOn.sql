-- Whether queue :queue has a rate limit in force: one look-up of its row,
-- uncorrelated, so PostgreSQL runs it once per statement (an InitPlan).
-- Every rate rule of a statement starts with it, so a queue without a
-- limit pays this one probe and nothing else.
exists (select 1 from {{schema}}.queue q where q.name = :queue and q.rate_limit is not null)
