import { createPostgresBackend, withBackend, type PostgresPoolConfig } from "bullmq";
import type { BenchSystem, RunningWorker, TaskPayload } from "../system.ts";
import { dropSchema, withClient } from "../withClient.ts";
import { poolSize } from "./poolSize.ts";

const schema = "bench_bullmq";
const queueName = "bench";
const jobName = "bench";

/** BullMQ's classes bound to its PostgreSQL backend, leaving the process-wide default (Redis) alone. */
const { Queue, Worker } = withBackend(createPostgresBackend);

/**
 * BullMQ 6 on its PostgreSQL backend (`createPostgresBackend`, shipped in
 * the bullmq package since 6.0; `pg` is its optional peer dependency). Job
 * options are BullMQ's defaults, so completed jobs stay in its `job` table
 * as they would on Redis.
 */
export const bullMq = (): BenchSystem => {
  let url = "";
  let connection: PostgresPoolConfig = {};
  let queue: InstanceType<typeof Queue<TaskPayload>> | undefined;
  const q = (): InstanceType<typeof Queue<TaskPayload>> => {
    if (queue === undefined) throw new Error("bullmq: setup first");
    return queue;
  };

  return {
    name: "bullmq",
    schema,
    async setup(databaseUrl, fresh) {
      url = databaseUrl;
      if (fresh) await dropSchema(url, schema);
      connection = { connectionString: url, schema, max: poolSize };
      queue = new Queue<TaskPayload>(queueName, { connection: { ...connection, migrate: fresh } });
      await queue.waitUntilReady();
    },
    async reset() {
      await withClient(url, async (client) => {
        await client.query(`truncate ${schema}.job, ${schema}.event cascade`);
      });
    },
    async bulkInsert(payloads) {
      await q().addBulk(payloads.map((data) => ({ name: jobName, data })));
    },
    async enqueue(payload) {
      await q().add(jobName, payload);
    },
    async enqueueDelayed(payload, delayMs) {
      await q().add(jobName, payload, { delay: delayMs });
    },
    async startWorker(concurrency, handler): Promise<RunningWorker> {
      const worker = new Worker<TaskPayload>(
        queueName,
        async (job) => {
          handler(job.data);
        },
        { connection, concurrency },
      );
      worker.on("error", (error) => console.error(`bullmq: ${String(error)}`));
      await worker.waitUntilReady();
      return { stop: () => worker.close() };
    },
    async fillFinished(n) {
      await withClient(url, async (client) => {
        // Ids with a prefix the job-id counter never produces, so later adds cannot collide.
        await client.query(
          `insert into ${schema}.job (queue, id, seq, name, state, data, added_at_ms, processed_at_ms, finished_at_ms)
           select $1, 'filled-' || g, nextval('${schema}.job_seq'), $2, 'completed', jsonb_build_object('i', g, 't', 0),
                  m, m, m
             from generate_series(1, $3::int) g, (select (extract(epoch from now()) * 1000)::bigint as m) now_ms`,
          [queueName, jobName, n],
        );
      });
    },
    async teardown() {
      await queue?.close();
      queue = undefined;
    },
  };
};
