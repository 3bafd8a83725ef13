-- :queue: the operator's cap setting (setAt null: none stored, the
-- definition's maxPending applies), or no row for a queue never recorded.
select q.max_pending as "maxPending", q.max_pending_set_at as "setAt", q.counted from {{schema}}.queue q where q.name = :queue
