import type pg from "pg";

/**
 * Runs `work` in a transaction on a client of its own: committed when it
 * resolves, rolled back when it throws (the rollback's own failure is
 * ignored: the work's error is the one to report).
 */
export const inTransaction = async <A>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<A>,
): Promise<A> => {
  const client = await pool.connect();
  try {
    await client.query("begin");
    const result = await work(client);
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
};
