// Issue 18 item 4 and issue 20 item 6: every public API that takes an
// options object rejects a misspelt key (with the name it meant) and a
// value of the wrong type with a ConfigError, before anything is written
// or started. TypeScript catches these at compile time; JavaScript callers,
// `as any` and spread objects do not, so this calls through `never`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import {
  BatchResult,
  Steps,
  Underway,
  consoleLogger,
  dashboard,
  defineJob,
  defineStepJob,
  done,
  migrate,
  next,
  openTelemetry,
  pendingMigrations,
  prometheusMetrics,
  redrive,
  runScheduler,
  schedule,
  serveDashboard,
  startRetention,
  sweepExpired,
  unschedule,
} from "../src/index.ts";
import { enqueuedTasks, expectEnqueued, perform } from "../src/testing/index.ts";
import { rejectsConfig, throwsConfig, typo } from "./support/configErrors.ts";
import { useDatabase } from "./support/harness.ts";

const Input = t.type({ n: t.number });

describe("misspelt and mistyped options", () => {
  const { db, connect } = useDatabase("option_typos");

  const count = async (queue: string, state?: string): Promise<number> => {
    const { rows } = await db().pool.query<{ n: number }>(
      "select count(*)::int as n from underway.task_all where queue_name = $1 and ($2::text is null or state::text = $2)",
      [queue, state ?? null],
    );
    return rows[0]?.n ?? 0;
  };

  it("Underway.connect: nothing is migrated or connected", async () => {
    const schemaExists = async (schema: string): Promise<boolean> =>
      (await db().pool.query("select 1 from pg_namespace where nspname = $1", [schema])).rowCount === 1;
    // Without the check, migrat was ignored and the schema was made.
    await rejectsConfig(
      () => Underway.connect({ pool: db().pool, schema: "typo_schema", migrat: false } as never),
      typo("migrat", "migrate"),
    );
    await rejectsConfig(
      () => Underway.connect({ pool: db().pool, schema: "typo_schema", migrate: "no" } as never),
      /migrate must be a boolean, got string "no"/,
    );
    await rejectsConfig(
      () =>
        Underway.connect({ pool: db().pool, schema: "typo_schema", listener: { checkInterval: 5 } } as never),
      typo("listener.checkInterval", "listener.checkIntervalMs"),
    );
    await rejectsConfig(
      () => Underway.connect({ pool: db().pool, schema: "typo_schema", logger: console.log } as never),
      /logger must be a Logger/,
    );
    await rejectsConfig(
      () => Underway.connect({ pool: { max: 5 }, schema: "typo_schema" } as never),
      /pool must be a pg\.Pool/,
    );
    assert.equal(await schemaExists("typo_schema"), false);
  });

  it("defineJob, defineStepJob and step options: thrown where written", () => {
    throwsConfig(
      () => defineJob({ queue: "typo_def", input: Input, options: { retry: { maxAttemps: 3 } } } as never),
      /^defineJob: /,
      typo("options.retry.maxAttemps", "options.retry.maxAttempts"),
    );
    throwsConfig(
      () => defineJob({ queue: "typo_def", input: Input, option: { priority: 1 } } as never),
      typo("option", "options"),
    );
    throwsConfig(
      () => defineStepJob({ queue: "typo_def", input: Input, options: { timeoutMS: 5 } } as never),
      typo("options.timeoutMS", "options.timeoutMs"),
    );
    throwsConfig(
      () => defineJob({ queue: "typo_def", input: Input, options: { priority: "high" } } as never),
      /priority must be an integer from -2147483647 to 2147483647, got string "high"/,
    );
    throwsConfig(
      () => defineJob({ queue: "typo_def", input: Input, options: { retry: { maxAttempts: "3" } } } as never),
      /options\.retry\.maxAttempts must be an integer/,
    );
    const steps = Steps.of(defineStepJob({ queue: "typo_steps", input: Input })).step(async () => next(1));
    throwsConfig(
      () => steps.step(async () => done(1), { concurencyKey: "k" } as never),
      typo("concurencyKey", "concurrencyKey"),
    );
    throwsConfig(
      () => steps.step(async () => done(1), { heartbeatMs: "1s" } as never),
      /heartbeatMs must be/,
    );
  });

  it("enqueue, enqueueMany and enqueueAfter: no task is written", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "typo_enqueue", input: Input }));
    const stepJob = underway.job(defineStepJob({ queue: "typo_enqueue_steps", input: Input }));
    await rejectsConfig(() => job.enqueue({ n: 1 }, { priorty: 5 } as never), typo("priorty", "priority"));
    await rejectsConfig(() => job.enqueue({ n: 1 }, { runat: new Date() } as never), typo("runat", "runAt"));
    await rejectsConfig(
      () => job.enqueue({ n: 1 }, { retry: { maxAttemps: 3 } } as never),
      typo("retry.maxAttemps", "retry.maxAttempts"),
    );
    await rejectsConfig(() => job.enqueue({ n: 1 }, { delayMs: "5" } as never), /delayMs must be a number/);
    await rejectsConfig(
      () => job.enqueueMany([{ n: 1 }], { uniquekey: "u" } as never),
      typo("uniquekey", "uniqueKey"),
    );
    await rejectsConfig(
      () => job.enqueueMany([], { uniquekey: "u" } as never),
      typo("uniquekey", "uniqueKey"),
    );
    await rejectsConfig(
      () => job.enqueueAfter({ n: 1 }, 10, { clinet: db().pool } as never),
      typo("clinet", "client"),
    );
    await rejectsConfig(
      () => job.enqueue({ n: 1 }, { client: "pool" } as never),
      /client must be a pg Pool or client/,
    );
    await rejectsConfig(
      () => stepJob.enqueue({ n: 1 }, { priorty: 5 } as never),
      typo("priorty", "priority"),
    );
    // Inherited keys, accessors of a class, a Map's entries, non-enumerable
    // keys and symbols would be read, or not, past a check of own enumerable
    // keys: only plain objects are taken, every own key checked.
    await rejectsConfig(
      () => job.enqueue({ n: 1 }, Object.create({ priorty: 5 }) as never),
      /must be a plain object/,
    );
    class Accessors {
      get priorty(): number {
        return 5;
      }
    }
    await rejectsConfig(
      () => job.enqueue({ n: 1 }, new Accessors() as never),
      /must be a plain object \(\{ … \}\), got a Accessors/,
    );
    await rejectsConfig(
      () => job.enqueue({ n: 1 }, new Map([["priority", 5]]) as never),
      /must be a plain object/,
    );
    await rejectsConfig(
      () =>
        job.enqueue({ n: 1 }, Object.defineProperty({}, "priorty", { value: 5, enumerable: false }) as never),
      typo("priorty", "priority"),
    );
    await rejectsConfig(() => job.enqueue({ n: 1 }, { [Symbol("priority")]: 5 } as never), /symbol key/);
    assert.equal(await count("typo_enqueue"), 0);
    assert.equal(await count("typo_enqueue_steps"), 0);
  });

  it("start, work, startBatch, workBatch, runOnce and drain: no worker starts, no task is claimed", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "typo_work", input: Input }));
    await job.enqueue({ n: 1 });
    let ran = 0;
    const handler = async (): Promise<void> => {
      ran += 1;
    };
    throwsConfig(() => job.start(handler, { concurency: 5 } as never), typo("concurency", "concurrency"));
    throwsConfig(() => job.start(handler, { concurrency: "5" } as never), /concurrency must be an integer/);
    throwsConfig(
      () => job.work(handler, { pollIntervallMs: 50 } as never),
      typo("pollIntervallMs", "pollIntervalMs"),
    );
    await rejectsConfig(
      () => job.runOnce(handler, { signl: AbortSignal.abort() } as never),
      typo("signl", "signal"),
    );
    await rejectsConfig(
      () => job.drain(handler, { concurency: 2 } as never),
      typo("concurency", "concurrency"),
    );
    await rejectsConfig(() => job.drain(handler, { until: "done" } as never), /until must be one of "empty"/);
    const batch = async (tasks: ReadonlyArray<unknown>) => {
      ran += 1;
      return tasks.map(() => BatchResult.ok(undefined));
    };
    throwsConfig(() => job.startBatch(batch, { batchsize: 5 } as never), typo("batchsize", "batchSize"));
    throwsConfig(() => job.startBatch(batch, { batchWait: 5 } as never), typo("batchWait", "batchWaitMs"));
    throwsConfig(() => job.workBatch(batch, { batchSize: 0 }), /batchSize must be an integer from 1 to 1000/);
    throwsConfig(
      () => job.start(handler, { batchSize: 5 } as never),
      /batchSize is an option of a batch handler/,
    );
    const steps = underway.job(defineStepJob({ queue: "typo_work_steps", input: Input }));
    const chain = Steps.of(steps.definition).step(async () => done(1));
    throwsConfig(() => steps.start(chain, { prefech: 5 } as never), typo("prefech", "prefetch"));
    await rejectsConfig(
      () => steps.drain(chain, { concurrency: 0 } as never),
      /concurrency must be an integer from 1/,
    );
    assert.equal(ran, 0);
    assert.equal(await count("typo_work", "pending"), 1);
    assert.deepEqual(
      (await underway.ops.workers()).filter((worker) =>
        worker.queues.some((q) => q.queue.startsWith("typo_work")),
      ),
      [],
    );
  });

  it("outcome, stopOnSignals, consoleLogger: thrown synchronously", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "typo_misc", input: Input }));
    const id = await job.enqueue({ n: 1 });
    throwsConfig(
      () => job.outcome(id, { pollInterval: 10 } as never),
      typo("pollInterval", "pollIntervalMs"),
    );
    const before = process.listenerCount("SIGTERM");
    throwsConfig(() => underway.stopOnSignals({ signal: ["SIGTERM"] } as never), typo("signal", "signals"));
    throwsConfig(() => underway.stopOnSignals({ exit: "no" } as never), /exit must be a boolean/);
    assert.equal(process.listenerCount("SIGTERM"), before);
    throwsConfig(
      () => consoleLogger({ level: "loud" } as never),
      /level must be one of "info", "warn", "error", "silent", got string "loud"/,
    );
    throwsConfig(() => consoleLogger({ levle: "info" } as never), typo("levle", "level"));
  });

  it("schedule, unschedule and runScheduler: no schedule is written, no scheduler runs", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "typo_schedule", input: Input }));
    await rejectsConfig(
      () => schedule(job, "0 * * * * *[UTC]", { n: 1 }, { catchup: true } as never),
      typo("catchup", "catchUp"),
    );
    await rejectsConfig(
      () => schedule(job, "0 * * * * *[UTC]", { n: 1 }, { catchUp: "yes" } as never),
      /catchUp must be a boolean/,
    );
    assert.deepEqual(
      (await underway.ops.schedules()).filter((s) => s.queue === "typo_schedule"),
      [],
    );
    await schedule(job, "0 * * * * *[UTC]", { n: 1 });
    await rejectsConfig(() => unschedule(job, { clint: db().pool } as never), typo("clint", "client"));
    assert.equal((await underway.ops.schedules()).filter((s) => s.queue === "typo_schedule").length, 1);
    throwsConfig(() => runScheduler(job, { maxCatchup: 5 } as never), typo("maxCatchup", "maxCatchUp"));
    throwsConfig(
      () => runScheduler(job, { refreshIntervalMs: "1s" } as never),
      /refreshIntervalMs must be a number/,
    );
  });

  it("retention and redrive: nothing is swept or moved", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "typo_dlq_src", dlq: "typo_dlq", input: Input }));
    await job.enqueue({ n: 1 });
    await db().pool.query(
      "update underway.task set queue_name = 'typo_dlq', state = 'failed', finished_at = now() - interval '30 days', ttl_ms = 0 where queue_name = 'typo_dlq_src'",
    );
    await rejectsConfig(
      () => sweepExpired(underway, { batchsize: 10 } as never),
      typo("batchsize", "batchSize"),
    );
    throwsConfig(() => startRetention(underway, { interval: 10 } as never), typo("interval", "intervalMs"));
    throwsConfig(
      () => startRetention(underway, { intervalMs: "1m" } as never),
      /intervalMs must be an integer/,
    );
    await rejectsConfig(() => redrive(underway, "typo_dlq", { limt: 1 } as never), typo("limt", "limit"));
    await rejectsConfig(
      () => redrive(underway, "typo_dlq", { filter: { errorlike: "x" } } as never),
      typo("filter.errorlike", "filter.errorLike"),
    );
    await rejectsConfig(
      () => redrive(underway, "typo_dlq", { ids: "1" } as never),
      /ids must be an array of strings/,
    );
    assert.equal(await count("typo_dlq", "failed"), 1);
    assert.equal(await count("typo_dlq_src"), 0);
  });

  it("dashboard and serveDashboard: no handler, no server", async () => {
    const underway = await connect();
    // Without the check, readonly was ignored: a "read-only" dashboard with every action.
    throwsConfig(() => dashboard(underway, { readonly: true } as never), typo("readonly", "readOnly"));
    throwsConfig(
      () => dashboard(underway, { readOnly: "true" } as never),
      /readOnly must be a boolean, got string "true"/,
    );
    throwsConfig(
      () => dashboard(underway, { allowedHosts: "a.example" } as never),
      /allowedHosts must be an array of strings/,
    );
    await rejectsConfig(() => serveDashboard(underway, { prot: 4000 } as never), typo("prot", "port"));
    await rejectsConfig(
      () => serveDashboard(underway, { readonly: true } as never),
      typo("readonly", "readOnly"),
    );
    await rejectsConfig(
      () => serveDashboard(underway, { port: "4000" } as never),
      /port must be an integer from 0 to 65535/,
    );
  });

  it("migrate, pendingMigrations, prometheusMetrics, openTelemetry and ops.checkInputs", async () => {
    const underway = await connect();
    await rejectsConfig(
      () => migrate(db().pool, { shema: "typo_migrate" } as never),
      typo("shema", "schema"),
    );
    await rejectsConfig(() => pendingMigrations(db().pool, { shema: "x" } as never), typo("shema", "schema"));
    await rejectsConfig(() => prometheusMetrics(underway, { prefx: "x_" } as never), typo("prefx", "prefix"));
    await rejectsConfig(() => openTelemetry(underway, { tracng: false } as never), typo("tracng", "tracing"));
    await rejectsConfig(
      () => underway.ops.delete({ queue: "typo_misc" }, { dryrun: true } as never),
      typo("dryrun", "dryRun"),
    );
    await rejectsConfig(
      () => underway.ops.checkInputs([], { maxFailure: 3 } as never),
      typo("maxFailure", "maxFailures"),
    );
    await rejectsConfig(() => underway.ops.checkInputs([], { pageBytes: 0 }), /pageBytes/);
    const { rowCount } = await db().pool.query("select 1 from pg_namespace where nspname = 'typo_migrate'");
    assert.equal(rowCount, 0);
  });
  it("perform, enqueuedTasks and expectEnqueued (underway/testing): no handler runs, nothing is read", async () => {
    const underway = await connect();
    const kit = defineJob({ queue: "typo_kit", input: Input });
    let ran = 0;
    const handler = async () => {
      ran += 1;
      return null;
    };
    await rejectsConfig(
      () => perform(kit, handler, { n: 1 }, { atempt: 2 } as never),
      typo("atempt", "attempt"),
    );
    await rejectsConfig(
      () => perform(kit, handler, { n: 1 }, { taskOptions: { timeOutMs: 5 } } as never),
      typo("taskOptions.timeOutMs", "taskOptions.timeoutMs"),
    );
    await rejectsConfig(
      () => perform(kit, handler, { n: 1 }, { attempt: 1.5 }),
      /attempt must be an integer/,
    );
    await rejectsConfig(() => perform(kit, handler, { n: 1 }, { signal: "abort" } as never), /signal/);
    await rejectsConfig(() => perform(kit, handler, { n: 1 }, { tx: {} } as never), /tx/);
    assert.equal(ran, 0);
    await rejectsConfig(() => enqueuedTasks(underway, kit, { limt: 5 } as never), typo("limt", "limit"));
    await rejectsConfig(
      () => expectEnqueued(underway, kit, {}, { cuont: 1 } as never),
      typo("cuont", "count"),
    );
    await rejectsConfig(
      () => expectEnqueued(underway, kit, {}, { count: "1" } as never),
      /count must be an integer/,
    );
  });
});
