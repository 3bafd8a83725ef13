import type pg from "pg";

/**
 * Moves the finished rows a benchmark's fill wrote straight into `task` to
 * `task_finished`, where underway keeps them since migration 0014 (a
 * completion moves each task there itself; a bulk fill of finished rows
 * does not go through one). Returns how many moved.
 */
export const moveFinished = async (client: pg.ClientBase, schema: string): Promise<number> => {
  const { rowCount } = await client.query(
    `with moved as (
       delete from ${schema}.task where state in ('succeeded', 'failed', 'cancelled') returning *
     )
     insert into ${schema}.task_finished select * from moved`,
  );
  return rowCount ?? 0;
};
