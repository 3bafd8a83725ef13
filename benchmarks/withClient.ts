import pg from "pg";

/**
 * Runs `fn` on a connection of its own, closed afterwards. For the harness's
 * own housekeeping (dropping schemas, truncating, filling): a one-off
 * connection keeps it off the pools whose behaviour is being measured.
 */
export const withClient = async <T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
};

/**
 * Vacuums and analyzes every table in `schema`, as autovacuum would have
 * done by the time a long-lived queue held these rows. Done by the harness
 * rather than left to autovacuum, whose timing would make plans, and so
 * figures, differ from run to run.
 */
export const vacuumAnalyze = (url: string, schema: string): Promise<void> =>
  withClient(url, async (client) => {
    const tables = await client.query<{ name: string }>(
      `select format('%I.%I', schemaname, relname) as name from pg_stat_user_tables where schemaname = $1`,
      [schema],
    );
    for (const { name } of tables.rows) await client.query(`vacuum analyze ${name}`);
  });

/** Drops `schema` and everything in it, if it exists. */
export const dropSchema = (url: string, schema: string): Promise<void> =>
  withClient(url, async (client) => {
    await client.query(`drop schema if exists ${pg.escapeIdentifier(schema)} cascade`);
  });
