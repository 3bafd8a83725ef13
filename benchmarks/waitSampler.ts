import pg from "pg";

/** Shares of sampled busy backends by what they waited on ("CPU" when on no wait event). */
export type WaitShares = Readonly<Record<string, number>>;

/**
 * Samples pg_stat_activity of the database every `everyMs` on a connection
 * of its own, counting backends that are busy (active, or idle inside a
 * transaction) by wait event. `stop` returns each event's share of the
 * busy samples, the mean number of busy backends, and the number of
 * samples (each one a read-only transaction of the database's own count).
 */
export const sampleWaits = async (
  url: string,
  everyMs = 20,
): Promise<{
  stop(): Promise<{ readonly shares: WaitShares; readonly meanBusy: number; readonly samples: number }>;
}> => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const counts = new Map<string, number>();
  let samples = 0;
  let busy = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query<{ wait: string; n: number }>(
        `select case when state = 'idle in transaction' then 'idle in transaction'
                     else coalesce(wait_event_type || ':' || wait_event, 'CPU') end as wait,
                count(*)::int as n
           from pg_stat_activity
          where datname = current_database() and backend_type = 'client backend'
            and pid <> pg_backend_pid() and state in ('active', 'idle in transaction')
          group by 1`,
      );
      samples += 1;
      for (const row of rows) {
        counts.set(row.wait, (counts.get(row.wait) ?? 0) + row.n);
        busy += row.n;
      }
      await new Promise((done) => setTimeout(done, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      await client.end();
      const shares = Object.fromEntries(
        [...counts]
          .sort((a, b) => b[1] - a[1])
          .map(([wait, n]) => [wait, busy === 0 ? 0 : Math.round((n / busy) * 1000) / 1000]),
      );
      return { shares, meanBusy: samples === 0 ? 0 : busy / samples, samples };
    },
  };
};
