-- :queue, :after, :limit, :bytes. One page of a deploy check
-- (src/ops/checkInputs.ts): the pending and running tasks of one queue, by
-- id after the cursor (:after, '0' from the start), with their stored
-- inputs. One walk by id over both states, so a task that moves between
-- them while the check runs (claimed, or back to pending for a retry)
-- keeps its place and is read once. Each state is a range of
-- task_queue_state_idx (queue_name, state, id) read in order and stopped
-- at :limit rows; the page is the lowest :limit ids of the two, so a page
-- costs the same however deep in a large backlog (each ordered as the
-- index is, so it can be read in order; where the queue holds most tasks,
-- the planner may walk the primary key instead, as cheap). A plain read: it takes
-- no lock, so workers claim and complete around it.
--
-- Bounded in bytes too: rows are cut once the inputs before them hold
-- :bytes (their stored size, pg_column_size, which reads no TOASTed value),
-- always keeping the first, so a page of huge inputs does not fill the
-- checker's memory.
select p.id::text, p."stepIndex", p.state, p.input
  from (select l.id, l."stepIndex", l.state, l.input,
               sum(pg_column_size(l.input)) over (order by l.id) - pg_column_size(l.input) as before
          from (select * from (
                  select t.id, t.step_index as "stepIndex", t.state, t.input from {{schema}}.task t
                   where t.queue_name = :queue and t.state = 'pending' and t.id > :after::bigint
                   order by t.queue_name, t.state, t.id limit :limit) pending
                union all
                select * from (
                  select t.id, t.step_index as "stepIndex", t.state, t.input from {{schema}}.task t
                   where t.queue_name = :queue and t.state = 'in_progress' and t.id > :after::bigint
                   order by t.queue_name, t.state, t.id limit :limit) running
                order by id
                limit :limit) l) p
 where p.before < :bytes
 order by p.id
