import type pg from "pg";

/** The table the fault fixtures record each handler run in (see test/fixtures/faultWorker.ts). */
export const createRunTable = async (pool: pg.Pool): Promise<void> => {
  await pool.query(`create table if not exists fault_run (
    id bigint generated always as identity primary key,
    task_id bigint not null,
    n integer not null,
    attempt integer not null,
    pid integer not null,
    started_at timestamptz not null,
    ended_at timestamptz
  )`);
};

/** Task states of a queue, as { state: count }. */
export const statesOf = async (pool: pg.Pool, queue: string): Promise<Record<string, number>> => {
  const { rows } = await pool.query<{ state: string; n: number }>(
    "select state::text, count(*)::int as n from underway.task_all where queue_name = $1 group by state",
    [queue],
  );
  return Object.fromEntries(rows.map((row) => [row.state, row.n]));
};

/** Prints a one-line summary of a fault test (kept in the test output for docs/reliability.md). */
export const summary = (name: string, figures: Record<string, number | string>): void => {
  console.log(
    `${name}: ${Object.entries(figures)
      .map(([key, value]) => `${key}=${value}`)
      .join(" ")}`,
  );
};
