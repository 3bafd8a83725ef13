// Hostile probes of the worker's hot path through the public API: the
// handler's slot freed at the verdict while the write runs outside the limit,
// claims sized when sent, prefetched keyed starts in groups, handler timeouts
// on one timer per worker, the lazily made AbortSignal, and the next-due read
// running beside delivery. Slow writes come from a trigger that sleeps in a
// schema of their own.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import type pg from "pg";
import { AbortError, defineJob, silentLogger, Underway, type Outcome } from "../src/index.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { spawnFixture } from "./support/processes.ts";

const N = t.type({ n: t.number });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every write of a success (a `succeeded` row into task_finished) sleeps `ms` inside its statement. */
const slowSuccesses = async (pool: pg.Pool, schema: string, ms: number): Promise<void> => {
  await pool.query(`
    create function ${schema}.slow_success() returns trigger language plpgsql as $$
    begin perform pg_sleep(${ms / 1000}); return new; end $$;
    create trigger slow_success before insert on ${schema}.task_finished for each row
      when (new.state = 'succeeded') execute function ${schema}.slow_success();`);
};

const statesOf = async (pool: pg.Pool, schema: string, queue: string): Promise<Record<string, number>> => {
  const { rows } = await pool.query<{ state: string; n: number }>(
    `select state, count(*)::int as n from ${schema}.task_all where queue_name = $1 group by state`,
    [queue],
  );
  return Object.fromEntries(rows.map(({ state, n }) => [state, n]));
};

describe("worker under attack", () => {
  const { db, connect } = useDatabase("worker_attack");

  it("never runs more than `concurrency` handlers while writes are slow, and holds at most twice concurrency + prefetch", async () => {
    const schema = "slow";
    const underway = await connect({ schema });
    await slowSuccesses(db().pool, schema, 15);
    // Retries are written one statement each, outside the grouped write:
    // slow ones pile up while claims go on.
    await db().pool.query(`
      create function ${schema}.slow_retry() returns trigger language plpgsql as $$
      begin perform pg_sleep(0.15); return new; end $$;
      create trigger slow_retry before update of state on ${schema}.task for each row
        when (old.state = 'in_progress' and new.state = 'pending' and new.attempt > 0)
        execute function ${schema}.slow_retry();`);
    const job = underway.job(defineJob({ queue: "slow", input: N }));
    const concurrency = 3;
    const prefetch = 4;
    const total = 80;
    // The first 30 succeed; the others fail once and come back only after the test.
    await job.enqueueMany(
      Array.from({ length: total }, (_, n) => ({ n })),
      { retry: { maxAttempts: 2, initialIntervalMs: 60_000, jitter: 0 } },
    );
    let running = 0;
    let peak = 0;
    const worker = job.start(
      async ({ n }) => {
        running += 1;
        peak = Math.max(peak, running);
        await sleep(n % 3);
        running -= 1;
        if (n >= 30) throw new Error("later");
        return n;
      },
      { concurrency, prefetch, pollIntervalMs: 50 },
    );
    // Held by the worker: claimed and not yet written (the write's
    // transaction is open, so its rows still read in progress).
    let heldPeak = 0;
    let done = false;
    const sampling = (async () => {
      while (!done) {
        const { rows } = await db().pool.query<{ n: number }>(
          `select count(*)::int as n from ${schema}.task_all where queue_name = 'slow' and state = 'in_progress'`,
        );
        heldPeak = Math.max(heldPeak, rows[0]?.n ?? 0);
        await sleep(3);
      }
    })();
    try {
      await eventually(
        async () => {
          const states = await statesOf(db().pool, schema, "slow");
          return states["succeeded"] === 30 && states["pending"] === total - 30;
        },
        20_000,
        "every task written",
      );
    } finally {
      done = true;
      await sampling;
      await worker.stop();
    }
    assert.equal(peak, concurrency, "handlers reached the limit and never exceeded it");
    assert.ok(
      heldPeak <= 2 * (concurrency + prefetch),
      `held ${heldPeak} tasks at once, more than 2 x (concurrency + prefetch)`,
    );
  });

  it("never runs more of a key than its limit across three clients, with prefetch and slow writes", async () => {
    const schema = "keys";
    const first = await connect({ schema });
    await slowSuccesses(db().pool, schema, 3);
    const keys = [
      { key: "a", limit: 1 },
      { key: "b", limit: 1 },
      { key: "c", limit: 2 },
      { key: "d", limit: 2 },
    ];
    const definition = defineJob({
      queue: "keyed",
      input: N,
      optionsFor: ({ n }) => {
        const { key, limit } = keys[n % keys.length] ?? { key: "?", limit: 1 };
        return { concurrencyKey: key, concurrencyLimit: limit };
      },
    });
    const perKey = 20;
    const total = perKey * keys.length;
    // Key by key: a claim sees a long run of one key first.
    const inputs = keys.flatMap((_, k) =>
      Array.from({ length: perKey }, (_, i) => ({ n: i * keys.length + k })),
    );
    await first.job(definition).enqueueMany(inputs);
    // Each client has a pool of its own, as separate processes would.
    const others = await Promise.all(
      [1, 2].map(() => Underway.connect({ connectionString: db().url, schema, logger: silentLogger })),
    );
    const running = new Map<string, number>();
    const peaks = new Map<string, number>();
    const runs = new Map<number, number>();
    const handler = async ({ n }: { n: number }) => {
      const key = keys[n % keys.length]?.key ?? "?";
      const now = (running.get(key) ?? 0) + 1;
      running.set(key, now);
      peaks.set(key, Math.max(peaks.get(key) ?? 0, now));
      runs.set(n, (runs.get(n) ?? 0) + 1);
      await sleep(5 + (n % 4) * 3);
      running.set(key, (running.get(key) ?? 1) - 1);
      return n;
    };
    const workers = [first, ...others].map((client) =>
      client.job(definition).start(handler, { concurrency: 4, pollIntervalMs: 50, prefetchHoldMs: 200 }),
    );
    try {
      await eventually(
        async () => (await statesOf(db().pool, schema, "keyed"))["succeeded"] === total,
        20_000,
        "every keyed task succeeded",
      );
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
      await Promise.all(others.map((client) => client.close()));
    }
    assert.deepEqual(
      Object.fromEntries([...peaks].sort()),
      Object.fromEntries(keys.map(({ key, limit }) => [key, limit])),
      "each key reached its limit and never exceeded it",
    );
    assert.equal(runs.size, total);
    assert.ok(
      [...runs.values()].every((count) => count === 1),
      "each task ran once",
    );
  });

  it("a client stopping while it holds prefetched keyed tasks gives them back: the other runs them, each once, no attempt spent", async () => {
    const schema = "keystop";
    const first = await connect({ schema });
    await slowSuccesses(db().pool, schema, 3);
    const keyCount = 8;
    const definition = defineJob({
      queue: "keystop",
      input: N,
      optionsFor: ({ n }) => ({ concurrencyKey: `k${n % keyCount}`, concurrencyLimit: 1 }),
    });
    const total = 160;
    await first.job(definition).enqueueMany(Array.from({ length: total }, (_, n) => ({ n })));
    const second = await Underway.connect({ connectionString: db().url, schema, logger: silentLogger });
    const running = new Map<string, number>();
    let peak = 0;
    const runs = new Map<number, number>();
    const handler = async ({ n }: { n: number }) => {
      const key = `k${n % keyCount}`;
      const now = (running.get(key) ?? 0) + 1;
      running.set(key, now);
      peak = Math.max(peak, now);
      runs.set(n, (runs.get(n) ?? 0) + 1);
      await sleep(4 + (n % 3) * 4);
      running.set(key, (running.get(key) ?? 1) - 1);
      return n;
    };
    const options = { concurrency: 3, pollIntervalMs: 50, prefetchHoldMs: 60_000 };
    const a = first.job(definition).start(handler, options);
    const aOutcomes: Array<Outcome<unknown>> = [];
    a.outcomes$.subscribe((outcome) => aOutcomes.push(outcome));
    const b = second.job(definition).start(handler, options);
    try {
      await eventually(() => runs.size >= 30, 10_000, "both running");
      await a.stop();
      assert.ok(aOutcomes.every((outcome) => outcome._tag === "succeeded"));
      // With 30 s leases, a task left claimed by the stopped worker would wait past this.
      await eventually(
        async () => (await statesOf(db().pool, schema, "keystop"))["succeeded"] === total,
        15_000,
        "every task succeeded",
      );
    } finally {
      await a.stop();
      await b.stop();
      await second.close();
    }
    assert.equal(peak, 1, "never two tasks of a key at once");
    assert.equal(runs.size, total);
    assert.ok(
      [...runs.values()].every((count) => count === 1),
      "each task ran once",
    );
    const { rows } = await db().pool.query<{ attempts: number }>(
      `select max(attempt)::int as attempts from ${schema}.task_all where queue_name = 'keystop'`,
    );
    assert.equal(rows[0]?.attempts, 1, "tasks given back spent no attempt");
  });

  it("stop() with many writes in flight: every success written and emitted, unstarted tasks back to pending", async () => {
    const schema = "stopping";
    const underway = await connect({ schema });
    await slowSuccesses(db().pool, schema, 4);
    const job = underway.job(defineJob({ queue: "stop", input: N }));
    const total = 400;
    await job.enqueueMany(Array.from({ length: total }, (_, n) => ({ n })));
    const ran = new Set<number>();
    const outcomes: Array<Outcome<unknown>> = [];
    const worker = job.start(
      async ({ n }) => {
        ran.add(n);
        await sleep(1);
        return n;
      },
      { concurrency: 10, prefetch: 50, pollIntervalMs: 50 },
    );
    worker.outcomes$.subscribe((outcome) => outcomes.push(outcome));
    await eventually(() => ran.size >= 60, 10_000, "tasks running");
    const stoppedAt = Date.now();
    await worker.stop();
    assert.ok(Date.now() - stoppedAt < 10_000, "stop resolved in time");
    const states = await statesOf(db().pool, schema, "stop");
    assert.equal(states["in_progress"], undefined, "nothing left claimed");
    assert.equal(states["succeeded"], ran.size, "every handler that ran has its success written");
    assert.equal((states["succeeded"] ?? 0) + (states["pending"] ?? 0), total, "no task lost");
    assert.equal(outcomes.length, ran.size, "an outcome for every success");
    assert.ok(outcomes.every((outcome) => outcome._tag === "succeeded"));
    // Tasks given back unstarted spent no attempt.
    const { rows } = await db().pool.query<{ n: number }>(
      `select count(*)::int as n from ${schema}.task_all where queue_name = 'stop' and state = 'pending' and attempt <> 0`,
    );
    assert.equal(rows[0]?.n, 0, "released tasks spent no attempt");
  });

  it("handler timeouts of different lengths each fire on time, and a signal read late carries the timeout", async () => {
    const underway = await connect({ schema: "timeouts" });
    const job = underway.job(defineJob({ queue: "timeouts", input: N }));
    // n: the timeout; the handler waits for its signal (or 2.5 s), except
    // n = 3000 which ends after 100 ms and n = 201, deaf, which reads its
    // signal only after the timeout.
    const plan = [1200, 3000, 200, 201, 500, 800];
    const fired = new Map<number, number>();
    const late: { aborted?: boolean; reason?: unknown } = {};
    const worker = job.start(
      async ({ n }, context) => {
        const started = performance.now();
        if (n === 3000) {
          await sleep(100);
          return n;
        }
        if (n === 201) {
          await sleep(600);
          late.aborted = context.signal.aborted;
          late.reason = context.signal.reason;
          return n;
        }
        await new Promise<void>((resolve) => {
          context.signal.addEventListener("abort", () => resolve());
          setTimeout(resolve, 2_500);
        });
        fired.set(n, performance.now() - started);
        throw new Error("gave up");
      },
      { concurrency: 10, pollIntervalMs: 50 },
    );
    try {
      const ids: string[] = [];
      for (const n of plan) ids.push(await job.enqueue({ n }, { timeoutMs: n, retry: { maxAttempts: 1 } }));
      const results = await Promise.allSettled(ids.map((id) => job.result(id)));
      assert.deepEqual(
        results.map((result) => result.status),
        plan.map((n) => (n === 3000 ? "fulfilled" : "rejected")),
      );
    } finally {
      await worker.stop();
    }
    for (const n of [1200, 200, 500, 800]) {
      const after = fired.get(n);
      assert.ok(after !== undefined, `timeout ${n} fired`);
      assert.ok(after >= n - 5 && after <= n + 400, `timeout ${n} fired after ${Math.round(after)} ms`);
    }
    assert.equal(late.aborted, true, "a signal first read after the timeout is aborted");
    assert.ok(
      late.reason instanceof AbortError && late.reason.kind === "timeout",
      "with the timeout as reason",
    );
  });

  it("a running task is cancelled, a handler reading its signal only afterwards sees the cancel, and its key waits for it", async () => {
    const underway = await connect({ schema: "cancels" });
    const job = underway.job(
      defineJob({
        queue: "cancels",
        input: N,
        // 1 and 3 share a key of limit 1: 3 may start only once 1 has really ended.
        optionsFor: ({ n }) => (n === 2 ? {} : { concurrencyKey: "k", concurrencyLimit: 1 }),
      }),
    );
    const seen = new Map<number, unknown>();
    const started = new Map<number, number>();
    const ended = new Map<number, number>();
    const worker = job.start(
      async ({ n }, context) => {
        started.set(n, performance.now());
        if (n === 1) {
          // Deaf: never reads the signal until well after the cancel.
          await sleep(400);
          seen.set(n, context.signal.reason);
        } else if (n === 2) {
          await new Promise<void>((resolve) => {
            context.signal.addEventListener("abort", () => resolve());
            setTimeout(resolve, 5_000);
          });
          seen.set(n, context.signal.reason);
        }
        ended.set(n, performance.now());
        return n;
      },
      { concurrency: 4, pollIntervalMs: 50 },
    );
    try {
      const ids = [await job.enqueue({ n: 1 }), await job.enqueue({ n: 2 })];
      await eventually(() => started.size === 2, 10_000, "both running");
      const follower = await job.enqueue({ n: 3 });
      const cancelledAt = performance.now();
      for (const id of ids) assert.equal(await job.cancel(id), true);
      for (const id of ids) await assert.rejects(job.result(id));
      assert.ok(performance.now() - cancelledAt < 3_000, "the listening handler stopped at the cancel");
      assert.equal(await job.result(follower), 3);
      const { rows } = await db().pool.query<{ state: string }>(
        "select state from cancels.task_all where id = any($1::bigint[]) order by id",
        [ids],
      );
      assert.deepEqual(
        rows.map((row) => row.state),
        ["cancelled", "cancelled"],
      );
    } finally {
      await worker.stop();
    }
    for (const n of [1, 2]) {
      const reason = seen.get(n);
      assert.ok(reason instanceof AbortError && reason.kind === "cancelled", `task ${n} saw the cancel`);
    }
    assert.ok(
      (started.get(3) ?? 0) >= (ended.get(1) ?? Infinity),
      "the key's next task waited for the cancelled one",
    );
  });

  it("delayed tasks and retries start on time, with no poll to rely on", async () => {
    const underway = await connect({ schema: "due" });
    const job = underway.job(defineJob({ queue: "due", input: N }));
    const starts = new Map<number, number[]>();
    const worker = job.start(
      async ({ n }) => {
        const list = starts.get(n) ?? [];
        list.push(performance.now());
        starts.set(n, list);
        if (n === 2 && list.length === 1) throw new Error("once");
        return n;
      },
      { concurrency: 2, pollIntervalMs: 60_000 },
    );
    try {
      // Idle first: the worker has registered for NOTIFY and read no due time.
      await sleep(200);
      const enqueuedAt = performance.now();
      const delayed = await job.enqueue({ n: 1 }, { delayMs: 500 });
      const retried = await job.enqueue(
        { n: 2 },
        { retry: { initialIntervalMs: 400, jitter: 0, maxAttempts: 2 } },
      );
      assert.equal(await job.result(delayed), 1);
      assert.equal(await job.result(retried), 2);
      const delayedAt = (starts.get(1)?.[0] ?? 0) - enqueuedAt;
      assert.ok(
        delayedAt >= 450 && delayedAt <= 500 + 400,
        `delayed task started after ${Math.round(delayedAt)} ms`,
      );
      const [firstRun, secondRun] = starts.get(2) ?? [];
      assert.ok(firstRun !== undefined && secondRun !== undefined);
      const gap = secondRun - firstRun;
      assert.ok(
        gap >= 380 && gap <= 400 + 400,
        `retry started ${Math.round(gap)} ms after the first attempt`,
      );
    } finally {
      await worker.stop();
    }
  });

  it("a process with a worker exits by itself after close(), timeouts armed or not", async () => {
    const child = spawnFixture("exitAfterClose", { url: db().url }, { stderr: "capture" });
    await child.waitFor((line) => line["closed"] === true, 20_000, "the fixture closed its client");
    const exited = await Promise.race([child.exited, sleep(5_000).then(() => "still running")]);
    if (exited === "still running") child.child.kill("SIGKILL");
    assert.equal(exited, 0, `the process exited by itself (stderr: ${child.stderr()})`);
    assert.deepEqual(child.lines.find((line) => line["results"] !== undefined)?.["results"], [
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
  });
});
