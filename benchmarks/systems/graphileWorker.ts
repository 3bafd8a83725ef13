import { Logger, makeWorkerUtils, run, type WorkerUtils } from "graphile-worker";
import type { BenchSystem, RunningWorker, TaskPayload } from "../system.ts";
import { dropSchema, withClient } from "../withClient.ts";
import { poolSize } from "./poolSize.ts";

const taskName = "bench";
/** Graphile's log lines would interleave with the report, and cost time. */
const silent = new Logger(() => () => undefined);

export interface GraphileWorkerOptions {
  /**
   * Batching as the issue asks: `localQueue.size` 500 (fetch and lock 500
   * jobs per query), `completeJobBatchDelay: 0` and `failJobBatchDelay: 0`
   * (batch completions made in the same tick). Off: the library's defaults
   * (-1 for all three, so one query per fetch and per completion).
   */
  readonly tuned: boolean;
}

/**
 * graphile-worker 0.18. Completed jobs are deleted, so its "finished" rows
 * for the table-growth workload are permanently failed jobs (attempts used
 * up), the only finished jobs it keeps.
 */
export const graphileWorker = ({ tuned }: GraphileWorkerOptions): BenchSystem => {
  const schema = tuned ? "bench_graphile_tuned" : "bench_graphile";
  let url = "";
  let utils: WorkerUtils | undefined;
  const worker = (): WorkerUtils => {
    if (utils === undefined) throw new Error("graphile-worker: setup first");
    return utils;
  };

  return {
    name: tuned ? "graphile-worker-tuned" : "graphile-worker",
    schema,
    async setup(databaseUrl, fresh) {
      url = databaseUrl;
      if (fresh) await dropSchema(url, schema);
      utils = await makeWorkerUtils({ connectionString: url, schema, maxPoolSize: poolSize, logger: silent });
      if (fresh) await utils.migrate();
    },
    async reset() {
      await withClient(url, async (client) => {
        await client.query(`truncate ${schema}._private_jobs, ${schema}._private_job_queues`);
      });
    },
    async bulkInsert(payloads) {
      await worker().addJobs(payloads.map((payload) => ({ identifier: taskName, payload })));
    },
    async enqueue(payload) {
      await worker().addJob(taskName, payload);
    },
    async enqueueDelayed(payload, delayMs) {
      await worker().addJob(taskName, payload, { runAt: new Date(Date.now() + delayMs) });
    },
    async startWorker(concurrency, handler): Promise<RunningWorker> {
      const runner = await run({
        connectionString: url,
        schema,
        concurrency,
        maxPoolSize: poolSize,
        noHandleSignals: true,
        logger: silent,
        taskList: {
          // The payload is one of ours: every task in this schema was enqueued by this harness.
          [taskName]: (payload) => handler(payload as TaskPayload),
        },
        ...(tuned
          ? {
              preset: {
                worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 },
              },
            }
          : {}),
      });
      return { stop: () => runner.stop() };
    },
    async fillFinished(n) {
      await withClient(url, async (client) => {
        await client.query(
          `insert into ${schema}._private_tasks (identifier) values ($1) on conflict (identifier) do nothing`,
          [taskName],
        );
        await client.query(
          `insert into ${schema}._private_jobs (task_id, payload, attempts, max_attempts, last_error)
           select t.id, json_build_object('i', g, 't', 0), 25, 25, 'failed'
             from ${schema}._private_tasks t, generate_series(1, $2::int) g
            where t.identifier = $1`,
          [taskName, n],
        );
      });
    },
    async teardown() {
      await utils?.release();
      utils = undefined;
    },
  };
};
