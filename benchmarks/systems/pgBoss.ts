import { PgBoss } from "pg-boss";
import type { BenchSystem, RunningWorker, TaskPayload } from "../system.ts";
import { dropSchema, withClient } from "../withClient.ts";
import { poolSize } from "./poolSize.ts";

const schema = "bench_pgboss";
const queue = "bench";

export interface PgBossOptions {
  /**
   * Tasks fetched per query. A worker's handler gets the whole batch, so
   * `batchSize` times the number of fetch loops is how many tasks are in
   * flight; the harness keeps that at the workload's concurrency.
   */
  readonly batchSize: number;
}

/**
 * pg-boss 12 set up as the issue asks: `useListenNotify: true` on the
 * instance and `notify: true` on the queue (so a send wakes the worker at
 * once), and batch fetch with `burstWhenBatchFull: true` (fetch again at once
 * while batches come back full, instead of waiting out the polling interval).
 */
export const pgBoss = ({ batchSize }: PgBossOptions): BenchSystem => {
  let url = "";
  let instance: PgBoss | undefined;
  const boss = (): PgBoss => {
    if (instance === undefined) throw new Error("pg-boss: setup first");
    return instance;
  };

  return {
    name: "pg-boss",
    schema,
    async setup(databaseUrl, fresh) {
      url = databaseUrl;
      if (fresh) await dropSchema(url, schema);
      const created = new PgBoss({ connectionString: url, schema, max: poolSize, useListenNotify: true });
      // Without a listener an 'error' event would throw; a real failure still shows as a stalled workload.
      created.on("error", (error) => console.error(`pg-boss: ${String(error)}`));
      await created.start();
      if (fresh) await created.createQueue(queue, { notify: true });
      instance = created;
    },
    async reset() {
      await withClient(url, async (client) => {
        await client.query(`truncate ${schema}.job`);
      });
    },
    async bulkInsert(payloads) {
      await boss().insert(
        queue,
        payloads.map((data) => ({ data })),
      );
    },
    async enqueue(payload) {
      await boss().send(queue, payload);
    },
    async startWorker(concurrency, handler): Promise<RunningWorker> {
      const size = Math.min(batchSize, concurrency);
      const b = boss();
      const id = await b.work<TaskPayload>(
        queue,
        {
          batchSize: size,
          localConcurrency: Math.max(1, Math.floor(concurrency / size)),
          burstWhenBatchFull: true,
        },
        async (jobs) => {
          for (const job of jobs) handler(job.data);
        },
      );
      return { stop: () => b.offWork(queue, { id, wait: true }) };
    },
    async fillFinished(n) {
      await withClient(url, async (client) => {
        await client.query(
          `insert into ${schema}.job (name, data, state, started_on, completed_on)
           select $1, jsonb_build_object('i', g, 't', 0), 'completed', now(), now()
             from generate_series(1, $2::int) g`,
          [queue, n],
        );
      });
    },
    async teardown() {
      await instance?.stop({ graceful: false });
      instance = undefined;
    },
  };
};
