import * as t from "io-ts";
import pg from "pg";
import type { Job, JsonValue, Underway, Worker } from "../../src/index.ts";
import { builtUnderway } from "../builtUnderway.ts";
import type { BenchSystem, RunningWorker, TaskPayload } from "../system.ts";
import { moveFinished } from "../moveFinished.ts";
import { dropSchema, withClient } from "../withClient.ts";
import { poolSize } from "./poolSize.ts";

const schema = "bench_underway";
const Payload = t.type({ i: t.number, t: t.number });
type BenchJob = Job<TaskPayload, TaskPayload, JsonValue, JsonValue>;

/**
 * underway itself, through its public API only, with default task options;
 * `prefetch` as graphile-worker's tuned `localQueue` (default: concurrency);
 * `preparedStatements: false` as behind PgBouncer in transaction mode.
 */
export const underway = (
  options: { readonly prefetch?: number; readonly preparedStatements?: boolean } = {},
): BenchSystem => {
  let client: Underway | undefined;
  let pool: pg.Pool | undefined;
  let url = "";
  let job: BenchJob | undefined;
  const ready = (): BenchJob => {
    if (job === undefined) throw new Error("underway: setup first");
    return job;
  };

  return {
    name:
      options.preparedStatements === false
        ? "underway-unnamed"
        : options.prefetch === undefined
          ? "underway"
          : "underway-tuned",
    schema,
    async setup(databaseUrl, fresh) {
      url = databaseUrl;
      if (fresh) await dropSchema(url, schema);
      pool = new pg.Pool({ connectionString: url, max: poolSize });
      const { Underway, defineJob, silentLogger } = await builtUnderway();
      client = await Underway.connect({
        pool,
        schema,
        logger: silentLogger,
        preparedStatements: options.preparedStatements,
        // Its LISTEN goes where the pool goes (no pooler here).
        listener: { connection: pool.options },
      });
      job = client.job(defineJob({ queue: "bench", input: Payload }));
    },
    async reset() {
      await withClient(url, (c) => c.query(`truncate ${schema}.task, ${schema}.task_attempt`));
    },
    async bulkInsert(payloads) {
      await ready().enqueueMany(payloads);
    },
    async enqueue(payload) {
      await ready().enqueue(payload);
    },
    async enqueueDelayed(payload, delayMs) {
      await ready().enqueue(payload, { delayMs });
    },
    async startWorker(concurrency, handler): Promise<RunningWorker> {
      const worker: Worker<JsonValue> = ready().start(
        async (payload) => {
          handler(payload);
          return null;
        },
        { concurrency, prefetch: options.prefetch },
      );
      return { stop: () => worker.stop() };
    },
    async fillFinished(n) {
      await withClient(url, async (c) => {
        await c.query(
          `insert into ${schema}.task (queue_name, state, input, max_attempts, retry_initial_ms, retry_max_ms,
             retry_coefficient, retry_jitter, timeout_ms, heartbeat_ms, ttl_ms, attempt, started_at, finished_at)
           select 'bench', 'succeeded', jsonb_build_object('i', g, 't', 0), 5, 1000, 60000, 2, 0.5, 900000, 30000,
                  1209600000, 1, now(), now()
             from generate_series(1, $1) g`,
          [n],
        );
        await moveFinished(c, schema);
        await c.query(`analyze ${schema}.task`);
        await c.query(`analyze ${schema}.task_finished`);
      });
    },
    async teardown() {
      await client?.close();
      await pool?.end();
    },
  };
};
