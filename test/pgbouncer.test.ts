// The main paths through a real PgBouncer in transaction pooling mode
// (Debian's 1.18), as docs/scaling.md sets it up: the pool goes through the
// bouncer with `preparedStatements: false`, LISTEN goes straight to
// PostgreSQL. Each path must lose nothing and run nothing twice.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as t from "io-ts";
import pg from "pg";
import {
  ConfigError,
  defineJob,
  defineStepJob,
  done,
  migrate,
  next,
  runScheduler,
  schedule,
  silentLogger,
  Steps,
  transactional,
  Underway,
  type UnderwayOptions,
} from "../src/index.ts";
import { createRunTable, statesOf } from "./support/faults.ts";
import { eventually, recordingLogger, useDatabase } from "./support/harness.ts";
import { pgbouncerMissing, startPgBouncer, type PgBouncer } from "./support/pgbouncer.ts";
import { spawnFixture } from "./support/processes.ts";

const N = t.type({ n: t.number });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How many times each key occurs, for "ran exactly once" checks. */
const countsOf = (keys: ReadonlyArray<string>): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
};

const assertEachOnce = (ran: ReadonlyArray<string>, expected: ReadonlyArray<string>, what: string) => {
  const counts = countsOf(ran);
  const twice = [...counts].filter(([, count]) => count > 1).map(([key]) => key);
  const lost = expected.filter((key) => !counts.has(key));
  assert.deepEqual(twice, [], `${what}: run twice`);
  assert.deepEqual(lost, [], `${what}: lost`);
  assert.equal(counts.size, expected.length, `${what}: ran something not enqueued`);
};

describe("through PgBouncer in transaction mode", { skip: pgbouncerMissing() }, () => {
  let bouncer: PgBouncer | undefined;
  const clients: Underway[] = [];
  const pools: pg.Pool[] = [];
  // Registered before useDatabase's: hooks run in that order, so clients and
  // the bouncer are gone before the database is dropped under them (closing a
  // client through a bouncer whose database vanished waits out its timeouts).
  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(pools.map((pool) => pool.end()));
    await bouncer?.stop();
  });
  const { db } = useDatabase("pgbouncer");

  before(async () => {
    bouncer = await startPgBouncer(db().url);
  });

  const bounced = (): string => {
    if (bouncer === undefined) throw new Error("pgbouncer not started");
    return bouncer.url(db().url);
  };
  /** A client as docs/scaling.md sets it up behind the bouncer. */
  const connect = async (options: Partial<UnderwayOptions> = {}): Promise<Underway> => {
    const client = await Underway.connect({
      connectionString: bounced(),
      preparedStatements: false,
      listener: { connectionString: db().url },
      logger: silentLogger,
      ...options,
    });
    clients.push(client);
    return client;
  };
  const bouncedPool = (): pg.Pool => {
    const pool = new pg.Pool({ connectionString: bounced(), max: 10 });
    pool.on("error", () => undefined);
    pools.push(pool);
    return pool;
  };
  const advisoryLocks = async (): Promise<number> => {
    const { rows } = await db().pool.query<{ n: number }>(
      // This database's only: pg_locks is server-wide, and other test files
      // (other suites, on a shared server) migrate under advisory locks meanwhile.
      `select count(*)::int as n from pg_locks
        where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`,
    );
    return rows[0]?.n ?? -1;
  };

  it("migrates once from 6 concurrent callers, and leaves no advisory lock behind", async () => {
    const pool = bouncedPool();
    const results = await Promise.all(Array.from({ length: 6 }, () => migrate(pool, { schema: "underway" })));
    const appliers = results.filter((result) => result.applied.length > 0);
    assert.equal(appliers.length, 1, "exactly one caller applied the migrations");
    assert.ok(appliers[0]?.applied.includes("0001_init"));
    for (const result of results)
      assert.equal(result.applied.length + result.alreadyApplied.length, appliers[0]?.applied.length);
    assert.equal(await advisoryLocks(), 0, "an advisory lock leaked onto a pooled server connection");
    // A leaked lock made the next connects hang on Lock:advisory.
    const again = await Promise.all(Array.from({ length: 4 }, () => migrate(pool, { schema: "underway" })));
    assert.ok(again.every((result) => result.applied.length === 0));
    assert.equal(await advisoryLocks(), 0);
  });

  it("without preparedStatements: false, connect rejects with a ConfigError naming it and docs/scaling.md", async () => {
    // Named statements through transaction pooling collide (42P05/26000):
    // enqueues failed and results went unwritten, so tasks ran twice. The
    // pooler is found at connect, before anything is enqueued or claimed.
    const misconfigured = (error: unknown) =>
      error instanceof ConfigError &&
      error.message.includes("`preparedStatements: false`") &&
      error.message.includes("docs/scaling.md");
    for (let round = 0; round < 5; round += 1) {
      await assert.rejects(
        Underway.connect({
          connectionString: bounced(),
          listener: { connectionString: db().url },
          logger: silentLogger,
        }),
        misconfigured,
        `round ${round}: connectionString`,
      );
      const pool = bouncedPool();
      await assert.rejects(
        Underway.connect({ pool, listener: { connectionString: db().url }, logger: silentLogger }),
        misconfigured,
        `round ${round}: own pool`,
      );
      // The caller's pool is theirs: still usable.
      await pool.query("select 1");
    }
    // Set up as docs/scaling.md says, the same bouncer connects and runs.
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "probed", input: N }));
    await job.enqueue({ n: 1 });
  });

  it("says what is wrong with the listener settings for a pooler", async () => {
    await assert.rejects(
      Underway.connect({
        connectionString: bounced(),
        listener: { connection: { connectionString: db().url }, connectionString: db().url },
      }),
      (error: unknown) => error instanceof ConfigError && /not both/.test(error.message),
    );
    const logger = recordingLogger();
    await connect({ logger, listener: undefined });
    assert.ok(
      logger.lines.some((line) => line.level === "warn" && /listener\.connectionString/.test(line.message)),
      "unnamed statements without a direct LISTEN connection are warned about",
    );
  });

  it("enqueues from 20 callers while 3 worker processes drain: 0 lost, none run twice", async () => {
    const underway = await connect();
    await createRunTable(db().pool);
    const job = underway.job(defineJob({ queue: "bounced", input: N }));
    const workers = Array.from({ length: 3 }, () =>
      spawnFixture("faultWorker", {
        url: bounced(),
        listenerUrl: db().url,
        queue: "bounced",
        handlerMs: 0,
        concurrency: 8,
        pollIntervalMs: 500,
        stopOnSignals: true,
      }),
    );
    try {
      await Promise.all(
        workers.map((worker) =>
          worker.waitFor((line) => line["ready"] === true, 60_000, "a worker process to start"),
        ),
      );
      const single = Promise.all(
        Array.from({ length: 20 }, async (_, caller) => {
          const ids: string[] = [];
          for (let i = 0; i < 30; i += 1) ids.push(await job.enqueue({ n: caller * 30 + i }));
          return ids;
        }),
      );
      const many = job.enqueueMany(Array.from({ length: 600 }, (_, i) => ({ n: 600 + i })));
      const ids = [...(await single).flat(), ...(await many)];
      assert.equal(new Set(ids).size, 1_200);
      await eventually(
        async () => (await statesOf(db().pool, "bounced"))["succeeded"] === 1_200,
        40_000,
        "every task succeeded",
      );
      const { rows } = await db().pool.query<{ task_id: string; attempt: number; pid: number }>(
        "select task_id::text, attempt, pid from fault_run",
      );
      assertEachOnce(
        rows.map((row) => row.task_id),
        ids,
        "drain",
      );
      assert.ok(rows.every((row) => row.attempt === 1));
      assert.ok(new Set(rows.map((row) => row.pid)).size > 1, "more than one process took part");
      for (const worker of workers) worker.child.kill("SIGTERM");
      assert.deepEqual(
        await Promise.all(workers.map((worker) => worker.exited)),
        workers.map(() => 0),
      );
    } finally {
      for (const worker of workers) worker.child.kill("SIGKILL");
    }
  });

  it("retries by policy, and result() hears every outcome over the direct LISTEN", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "bounced_retry",
        input: N,
        output: t.number,
        options: { retry: { maxAttempts: 4, initialIntervalMs: 20, jitter: 0 } },
      }),
    );
    const runs: string[] = [];
    const worker = job.start(
      async ({ n }, { taskId, attempt }) => {
        runs.push(`${taskId}:${attempt}`);
        if (n % 3 === 0 && attempt < 3) throw new Error(`fails at attempt ${attempt}`);
        return n * 2;
      },
      { concurrency: 10, pollIntervalMs: 1_000 },
    );
    try {
      const ids = await Promise.all(Array.from({ length: 150 }, (_, n) => job.enqueue({ n })));
      const results = await Promise.all(ids.map((id) => job.result(id)));
      assert.deepEqual(
        results,
        ids.map((_, n) => n * 2),
      );
      const expected = ids.flatMap((id, n) => (n % 3 === 0 ? [1, 2, 3] : [1]).map((a) => `${id}:${a}`));
      assertEachOnce(runs, expected, "attempts");
      const history = await job.attempts(ids[0] ?? "");
      assert.deepEqual(
        history.map((row) => row.state),
        ["failed", "failed", "succeeded"],
      );
    } finally {
      await worker.stop();
    }
  });

  it("runs multi-step jobs, each step once, to their result", async () => {
    const underway = await connect();
    const chain = defineStepJob({ queue: "bounced_steps", input: N, output: t.number });
    const ran: string[] = [];
    const steps = Steps.of(chain)
      .step(async ({ n }, { jobId, stepIndex }) => {
        ran.push(`${jobId}:${stepIndex}`);
        return next({ n: n + 1 });
      })
      .step(async ({ n }, { jobId, stepIndex }) => {
        ran.push(`${jobId}:${stepIndex}`);
        return next({ n: n * 10 });
      })
      .step(async ({ n }, { jobId, stepIndex }) => {
        ran.push(`${jobId}:${stepIndex}`);
        return done(n);
      });
    const job = underway.job(chain);
    const worker = job.start(steps, { concurrency: 10, pollIntervalMs: 1_000 });
    try {
      const ids = await job.enqueueMany(Array.from({ length: 100 }, (_, n) => ({ n })));
      const results = await Promise.all(ids.map((id) => job.result(id)));
      assert.deepEqual(
        results,
        ids.map((_, n) => (n + 1) * 10),
      );
      assertEachOnce(
        ran,
        ids.flatMap((id) => [0, 1, 2].map((step) => `${id}:${step}`)),
        "steps",
      );
    } finally {
      await worker.stop();
    }
  });

  it("cancels pending tasks (never run) and a running transactional handler (its query cancelled on the right backend)", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "bounced_cancel", input: N }));
    const ran: number[] = [];
    let sleeping: (() => void) | undefined;
    const sleepingNow = new Promise<void>((resolve) => {
      sleeping = resolve;
    });
    const worker = job.start(
      transactional(async ({ n }, { tx }) => {
        ran.push(n);
        if (n === -1) {
          sleeping?.();
          await tx.query("select pg_sleep(60) as bounced_cancel_sleep");
        }
        await tx.query("select 1");
        return null;
      }),
      { concurrency: 4, pollIntervalMs: 200 },
    );
    try {
      const later = await Promise.all(Array.from({ length: 40 }, (_, n) => job.enqueueAfter({ n }, 2_000)));
      const cancelled = later.filter((_, n) => n % 2 === 0);
      assert.deepEqual(
        await Promise.all(cancelled.map((id) => job.cancel(id))),
        cancelled.map(() => true),
      );

      const running = await job.enqueue({ n: -1 });
      await sleepingNow;
      await eventually(async () => (await sleepQueries()) === 1, 5_000, "the handler's pg_sleep to run");
      const started = Date.now();
      assert.equal(await job.cancel(running), true);
      const outcome = await job.outcome(running);
      assert.equal(outcome._tag, "cancelled");
      assert.ok(Date.now() - started < 10_000, "the cancel ended the handler's query, not its timeout");
      // pg_cancel_backend reached the backend running the handler's
      // transaction, not a pooler's made-up pid.
      await eventually(
        async () => (await sleepQueries()) === 0,
        5_000,
        "the handler's query to be cancelled",
      );

      await eventually(
        async () => (await statesOf(db().pool, "bounced_cancel"))["succeeded"] === 20,
        10_000,
        "the tasks not cancelled to run",
      );
      assertEachOnce(
        ran.filter((n) => n >= 0).map(String),
        Array.from({ length: 20 }, (_, i) => String(i * 2 + 1)),
        "cancel",
      );
    } finally {
      await worker.stop();
    }
  });

  const sleepQueries = async (): Promise<number> => {
    const { rows } = await db().pool.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
        where query like '%bounced_cancel_sleep%' and state = 'active' and pid <> pg_backend_pid()`,
    );
    return rows[0]?.n ?? -1;
  };

  it("schedules: 2 clients enqueue exactly one task per tick", async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    const ticking = defineJob({ queue: "bounced_tick", input: N });
    const jobs = [a, b].map((client) => client!.job(ticking));
    await schedule(jobs[0]!, "* * * * * *[UTC]", { n: 1 });
    const schedulers = jobs.map((job) => runScheduler(job));
    await sleep(3_300);
    await Promise.all(schedulers.map((scheduler) => scheduler.stop()));
    const { rows: ticks } = await db().pool.query<{ tick_at: Date; task_id: string | null }>(
      "select tick_at, task_id::text from underway.schedule_tick where queue_name = 'bounced_tick' order by tick_at",
    );
    const { rows: tasks } = await db().pool.query<{ id: string }>(
      "select id::text from underway.task where queue_name = 'bounced_tick' order by id",
    );
    assert.ok(ticks.length >= 2, `expected at least 2 ticks in 3.3 s, got ${ticks.length}`);
    assert.equal(tasks.length, ticks.length, "one task per tick");
    assert.deepEqual(ticks.map((tick) => tick.task_id).sort(), tasks.map((task) => task.id).sort());
    ticks
      .slice(1)
      .forEach((tick, index) =>
        assert.equal(tick.tick_at.getTime() - ticks[index]!.tick_at.getTime(), 1_000),
      );
  });
});
