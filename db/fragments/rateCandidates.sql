-- Whether queue :queue may have a task its rate limit lets start now:
-- true without a limit; false only when its own budget is spent and no pending task has a
-- rateLimitKey (task_rate_key_idx, one probe). Uncorrelated, so a claim
-- or a next-due read makes it a one-time filter: a spent queue's backlog
-- is not walked row by row to find nothing.
(not {{> rateOn}}
 or not ({{> rateOwnSpent}}
         and not exists (select 1 from {{schema}}.task k
                          where k.queue_name = :queue and k.state = 'pending' and k.rate_key is not null)))
