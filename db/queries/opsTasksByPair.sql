-- A page of tasks merged from one branch per (queue, state) pair (the
-- branches are opsTasksPairBranch.sql, joined with UNION ALL in BRANCHES).
-- $1 the cursor's id (null: from the start), $2 rows wanted; DIRECTION is
-- `desc` (newest first) or `asc`. Each branch reads at most $2 rows of its
-- pair in id order, so a page costs about pairs x rows, however large the
-- table and however deep the page.
select page.*
  from ({{branches}}) page
 order by page.sort_id {{direction}}
 limit $2
