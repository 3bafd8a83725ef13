-- What a claim of queue :queue may take (queue_claim_mode,
-- db/migrations/0015_rate_limits.sql): 0 any due task (no rate limit),
-- 1 what its rate limit lets start (a limit, and a budget that may have
-- room), 2 nothing (paused, or its own budget spent and no task with a
-- rateLimitKey pending). Uncorrelated: PostgreSQL runs it once where it is
-- written, not per row (an InitPlan); and a claim is planned at every run,
-- so it is one call to plan, not the queue's look-ups.
(select {{schema}}.queue_claim_mode(:queue))
