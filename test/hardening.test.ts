// Regression tests for hostile input and isolation (issue: hardening): each
// failed on the main of 2026-11-28.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { firstValueFrom, filter, lastValueFrom, take, toArray } from "rxjs";
import { z } from "zod";
import {
  ConfigError,
  Steps,
  ValidationError,
  defineJob,
  defineStepJob,
  done,
  next,
  nextAfter,
  runScheduler,
  schedule,
  silentLogger,
  Underway,
} from "../src/index.ts";
import { eventually, recordingLogger, useDatabase } from "./support/harness.ts";
import { spawnFixture } from "./support/processes.ts";

const { db, connect } = useDatabase("hardening");

const N = t.type({ n: t.number });

const rowCount = async (queue: string): Promise<number> => {
  const { rows } = await db().pool.query<{ n: number }>(
    "select count(*)::int as n from underway.task_all where queue_name = $1",
    [queue],
  );
  return rows[0]?.n ?? 0;
};

describe("hardening", () => {
  it("one row that fails the batched completion costs no other task its result", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({ queue: "poison", input: N, output: t.number, options: { retry: { maxAttempts: 1 } } }),
    );
    // A trigger that rejects one output stands for any single-row failure of
    // the grouped write (a row locked past lock_timeout, a constraint).
    await db().pool.query(`
      create function poison_check() returns trigger language plpgsql as $$
      begin
        if new.state = 'succeeded' and new.output = '13'::jsonb then raise exception 'poisoned row'; end if;
        return new;
      end $$;
      create trigger poison before insert on underway.task_finished for each row execute function poison_check();`);
    try {
      const ids = await job.enqueueMany(Array.from({ length: 200 }, (_, n) => ({ n })));
      const worker = job.start(async ({ n }) => n, { concurrency: 50, prefetch: 200 });
      await eventually(async () => {
        const { rows } = await db().pool.query<{ n: number }>(
          "select count(*)::int as n from underway.task_all where queue_name = 'poison' and state = 'succeeded'",
        );
        return rows[0]?.n === 199;
      }, 30_000);
      await worker.stop();
      const { rows } = await db().pool.query<{ state: string; n: number }>(
        "select state::text, count(*)::int as n from underway.task_all where queue_name = 'poison' group by state",
      );
      const states = Object.fromEntries(rows.map((row) => [row.state, row.n]));
      // Only the poisoned task is not a success; every other result was written.
      assert.equal(states["succeeded"], 199, JSON.stringify(states));
      assert.equal(ids.length, 200);
    } finally {
      await db().pool.query("drop trigger poison on underway.task_finished; drop function poison_check()");
    }
  });

  it("an output near NOTIFY's byte limit (3,000 × €) succeeds once while outcomes are watched", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "euro", input: N, output: t.string }));
    const seen = firstValueFrom(job.outcomes$.pipe(filter((outcome) => outcome._tag !== "retrying")));
    await underway.listening();
    let runs = 0;
    const worker = job.start(async () => {
      runs += 1;
      return "€".repeat(3_000);
    });
    const id = await job.enqueue({ n: 1 });
    assert.equal(await job.result(id), "€".repeat(3_000));
    const outcome = await seen;
    assert.equal(outcome._tag, "succeeded");
    assert.equal(outcome._tag === "succeeded" ? outcome.output.length : 0, 3_000);
    await worker.stop();
    assert.equal(runs, 1);
  });

  it("refuses NaN, Infinity, NUL and lone surrogates in inputs, naming the path, and writes nothing", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "bad_values",
        input: t.type({ n: t.number, s: t.string, list: t.array(t.string) }),
      }),
    );
    const cases: Array<[unknown, string]> = [
      [{ n: Number.NaN, s: "", list: [] }, "n"],
      [{ n: Number.POSITIVE_INFINITY, s: "", list: [] }, "n"],
      [{ n: 1, s: "a\u0000b", list: [] }, "s"],
      [{ n: 1, s: "", list: ["ok", "\ud800"] }, "list[1]"],
    ];
    for (const [input, path] of cases) {
      await assert.rejects(
        () => job.enqueue(input as never),
        (error: unknown) => error instanceof ValidationError && error.decodeError.paths.includes(path),
        `path ${path}`,
      );
    }
    await assert.rejects(
      () => job.enqueueMany([{ n: 1, s: "", list: [] }, cases[0]?.[0] as never]),
      ValidationError,
    );
    assert.equal(await rowCount("bad_values"), 0);
  });

  it("a handler output that fails its output codec fails the attempt, and every reader agrees", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({ queue: "bad_output", input: N, output: t.number, options: { retry: { maxAttempts: 1 } } }),
    );
    const streamed = firstValueFrom(job.start(async () => "not a number" as unknown as number).outcomes$);
    const id = await job.enqueue({ n: 1 });
    const outcome = await job.outcome(id);
    assert.equal(outcome._tag, "failed");
    assert.equal((await streamed)._tag, "failed");
    const { rows } = await db().pool.query<{ state: string }>(
      "select state::text from underway.task_all where id = $1",
      [id],
    );
    assert.equal(rows[0]?.state, "failed");
  });

  it("bounds concurrency and unique keys, and refuses NUL in them, before anything is written", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "keys", input: N }));
    await assert.rejects(() => job.enqueue({ n: 1 }, { concurrencyKey: "k".repeat(3_000) }), ConfigError);
    await assert.rejects(() => job.enqueue({ n: 1 }, { uniqueKey: "€".repeat(200) }), ConfigError);
    await assert.rejects(() => job.enqueue({ n: 1 }, { concurrencyKey: "a\u0000b" }), ConfigError);
    assert.equal(await rowCount("keys"), 0);
    // The queue still works.
    const worker = job.start(async ({ n }) => n);
    assert.equal(await job.result(await job.enqueue({ n: 7 }, { concurrencyKey: "k".repeat(500) })), 7);
    await worker.stop();
  });

  it("defining a queue whose DLQ already exists keeps that DLQ's own DLQ", async () => {
    const underway = await connect();
    await underway.job(defineJob({ queue: "chain_b", dlq: "chain_c", input: N })).enqueue({ n: 1 });
    await underway.job(defineJob({ queue: "chain_a", dlq: "chain_b", input: N })).enqueue({ n: 1 });
    const { rows } = await db().pool.query<{ name: string; dlq_name: string | null }>(
      "select name, dlq_name from underway.queue where name like 'chain_%' order by name",
    );
    assert.deepEqual(
      rows.map((row) => [row.name, row.dlq_name]),
      [
        ["chain_a", "chain_b"],
        ["chain_b", "chain_c"],
        ["chain_c", null],
      ],
    );
  });

  it("a step job enqueued with a unique key held by a live run returns that run's job id", async () => {
    const underway = await connect();
    const def = defineStepJob({ queue: "unique_steps", input: N });
    const job = underway.job(def);
    const first = await job.enqueue({ n: 1 }, { uniqueKey: "only-one" });
    const second = await job.enqueue({ n: 2 }, { uniqueKey: "only-one" });
    assert.equal(second, first);
    const worker = job.start(Steps.of(def).step(async ({ n }) => done(n)));
    assert.equal(await job.result(second), 1);
    await worker.stop();
  });

  it("a slow synchronous outcomes$ subscriber loses no outcome", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "slow_subscriber", input: N }));
    const total = 2_000;
    const seen = firstValueFrom(
      job.outcomes$.pipe(
        filter((outcome) => outcome._tag === "succeeded"),
        take(total),
        toArray(),
      ),
    );
    // Busy-waits 1 ms per outcome: the whole drain is at least 2 s of blocked
    // subscriber, longer than the listener's liveness check allows for.
    const slow = job.outcomes$.subscribe(() => {
      const until = performance.now() + 1;
      while (performance.now() < until);
    });
    await underway.listening();
    const worker = job.start(async ({ n }) => n, { concurrency: 20, prefetch: 200 });
    await job.enqueueMany(Array.from({ length: total }, (_, n) => ({ n })));
    const outcomes = await seen;
    assert.equal(new Set(outcomes.map((outcome) => outcome.taskId)).size, total);
    slow.unsubscribe();
    await worker.stop();
  });

  it("serves thousands of result() waiters from one map", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "waiters", input: N, output: t.number }));
    const ids = await job.enqueueMany(Array.from({ length: 2_000 }, (_, n) => ({ n })));
    const started = process.cpuUsage();
    const results = Promise.all(ids.map((id) => job.result(id)));
    await underway.listening();
    const worker = job.start(async ({ n }) => n * 2, { concurrency: 20, prefetch: 200 });
    const values = await results;
    const cpu = process.cpuUsage(started);
    assert.deepEqual(
      values,
      ids.map((_, n) => n * 2),
    );
    // O(N²) decoding took ~89 s of CPU for 5,000; one map takes a few seconds at most.
    assert.ok((cpu.user + cpu.system) / 1e6 < 30, `cpu ${(cpu.user + cpu.system) / 1e6} s`);
    await worker.stop();
  });

  it("shutdownQueue stops the queue's schedulers too", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "shut_schedule", input: N }));
    await schedule(job, "* * * * * *[UTC]", { n: 1 });
    const scheduler = runScheduler(job);
    const other = runScheduler(underway.job(defineJob({ queue: "shut_other", input: N })));
    await underway.listening();
    const completed = lastValueFrom(scheduler.ticks$.pipe(toArray()));
    await underway.shutdownQueue("shut_schedule");
    const ticks = await completed; // completes only once the scheduler stopped
    assert.ok(Array.isArray(ticks));
    const before = await rowCount("shut_schedule");
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.equal(await rowCount("shut_schedule"), before, "no tick enqueued after the shutdown");
    await other.stop();
  });

  it("a step may not hand on a value that JSON cannot carry", async () => {
    const underway = await connect();
    const def = defineStepJob({ queue: "step_json", input: N, options: { retry: { maxAttempts: 1 } } });
    const job = underway.job(def);
    const worker = job.start(
      Steps.of(def)
        .step(async ({ n }) => next({ n: n === 1 ? Number.NaN : n }))
        .step(async ({ n }) => done(n)),
    );
    const bad = await job.enqueue({ n: 1 });
    const outcome = await job.outcome(bad);
    assert.equal(outcome._tag, "failed");
    assert.match(outcome._tag === "failed" ? outcome.error : "", /n: NaN is not a JSON number/);
    assert.equal(await job.result(await job.enqueue({ n: 2 })), 2);
    await worker.stop();
  });
});

describe("found by a new user", () => {
  const Pair = t.type({ from: t.type({ x: t.number }), to: t.type({ x: t.number }) });

  it("accepts a value used twice in one input or output (only a real cycle is refused)", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "shared_refs", input: Pair, output: t.array(Pair) }));
    const p = { x: 1 };
    const worker = job.start(async (pair) => [pair, pair]);
    const id = await job.enqueue({ from: p, to: p });
    assert.deepEqual(await job.result(id), [
      { from: p, to: p },
      { from: p, to: p },
    ]);
    await worker.stop();
    const cyclic: { x: number; self?: unknown } = { x: 1 };
    cyclic.self = cyclic;
    const loose = underway.job(defineJob({ queue: "cyclic", input: t.unknown }));
    await assert.rejects(
      () => loose.enqueue(cyclic),
      (error: unknown) =>
        error instanceof ValidationError && /self: is a circular reference/.test(error.message),
    );
  });

  it("refuses nesting deeper than 1,000 levels with a ValidationError, not a stack overflow", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "deep", input: t.unknown }));
    let deep: unknown = {};
    for (let level = 0; level < 100_000; level += 1) deep = { d: deep };
    await assert.rejects(
      () => job.enqueue(deep),
      (error: unknown) =>
        error instanceof ValidationError && /nested deeper than 1000 levels/.test(error.message),
    );
  });

  it("a job handle answers only for its own queue's tasks", async () => {
    const underway = await connect();
    const a = underway.job(defineJob({ queue: "scope_a", input: N }));
    const b = underway.job(defineJob({ queue: "scope_b", input: N }));
    const id = await a.enqueue({ n: 1 }, { delayMs: 60_000 });
    await assert.rejects(() => b.outcome(id), /no task with id \d+ in queue scope_b/);
    await assert.rejects(() => b.attempts(id), /no task with id \d+ in queue scope_b/);
    assert.equal(await b.cancel(id), false, "b cannot cancel a's task");
    assert.equal(await a.cancel(id), true);
  });

  it("result() waiters outlive a busy pool: thousands of them share a few reads", async () => {
    const { default: pg } = await import("pg");
    const pool = new pg.Pool({ connectionString: db().url, max: 2, connectionTimeoutMillis: 500 });
    pool.on("error", () => undefined);
    const underway = await Underway.connect({ pool, logger: silentLogger });
    try {
      const job = underway.job(defineJob({ queue: "busy_pool", input: N, output: t.number }));
      const ids = await job.enqueueMany(
        Array.from({ length: 1_000 }, (_, n) => ({ n })),
        { delayMs: 1_500 },
      );
      const results = Promise.all(ids.map((id) => job.result(id)));
      // Both connections busy for 1.5 s: every waiter's first reads time out.
      const held = await Promise.all([pool.connect(), pool.connect()]);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      for (const client of held) client.release();
      const worker = job.start(async ({ n }) => n, { concurrency: 20 });
      assert.deepEqual(
        await results,
        ids.map((_, n) => n),
      );
      await worker.stop();
    } finally {
      await underway.close();
      await pool.end();
    }
  });

  it("checks delay, ttl, runAt and retry intervals where they are written", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "spans", input: N }));
    for (const options of [
      { delayMs: 1e20 },
      { ttlMs: 1e20 },
      { delayMs: "10" as unknown as number },
      { runAt: new Date("nope") },
      { runAt: new Date(), delayMs: 5 },
      { retry: { initialIntervalMs: 1_000, maxIntervalMs: 1 } },
    ]) {
      await assert.rejects(() => job.enqueue({ n: 1 }, options), ConfigError, JSON.stringify(options));
    }
    assert.throws(() => defineJob({ queue: "not_a_schema", input: {} as unknown as typeof N }), ConfigError);
    await assert.rejects(() => job.enqueueMany("abc" as unknown as Array<{ n: number }>), ValidationError);
    assert.equal(await rowCount("spans"), 0);
  });
});

describe("a failed read of a truncated outcome", () => {
  it("is logged; the subscriber lives on and gets the next outcome", async () => {
    const underway = await connect();
    const def = defineJob({ queue: "truncated_read", input: N, output: t.string });
    const job = underway.job(def);
    // A watcher whose role may LISTEN and register but not read tasks: the
    // read that completes a truncated outcome fails for good.
    // The same password as the test's own user: servers with password auth
    // (the embedded one) accept it; trust servers ignore it.
    const url = new URL(db().url);
    const password = decodeURIComponent(url.password);
    await db().pool.query(`
      do $$ begin
        if not exists (select from pg_roles where rolname = 'outcome_watcher') then
          create role outcome_watcher login;
        end if;
      end $$;
      grant usage on schema underway to outcome_watcher;
      grant select, insert, update, delete on underway.outcome_listener to outcome_watcher;`);
    if (password !== "")
      await db().pool.query(`alter role outcome_watcher password '${password.replaceAll("'", "''")}'`);
    url.username = "outcome_watcher";
    const log = recordingLogger();
    const watcher = await Underway.connect({ connectionString: url.toString(), migrate: false, logger: log });
    try {
      const seen: Array<{ tag: string; size: number }> = [];
      let failed: unknown;
      const sub = watcher.job(def).outcomes$.subscribe({
        next: (outcome) =>
          seen.push({ tag: outcome._tag, size: outcome._tag === "succeeded" ? outcome.output.length : 0 }),
        error: (error: unknown) => {
          failed = error;
        },
      });
      await watcher.listening();
      const worker = job.start(async ({ n }) => (n === 1 ? "x".repeat(10_000) : "small"));
      await job.result(await job.enqueue({ n: 1 })); // truncated: its read is refused
      await job.result(await job.enqueue({ n: 2 }));
      await eventually(() => seen.some((outcome) => outcome.size === 5), 10_000, "the next outcome");
      await worker.stop();
      assert.equal(failed, undefined, "outcomes$ did not error");
      assert.ok(
        log.lines.some((line) => line.level === "error" && /too large to notify/.test(line.message)),
        JSON.stringify(log.lines),
      );
      sub.unsubscribe();
    } finally {
      await watcher.close();
    }
  });
});

describe("found by a hostile tester", () => {
  it("a Standard Schema whose check throws is a ValidationError, not a crash", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "zod_throws",
        input: z.object({ s: z.string().refine((s) => JSON.parse(s) !== null) }),
      }),
    );
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      await assert.rejects(() => job.enqueue({ s: "{not json" }), ValidationError);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("a value that does not survive JSON for its Standard Schema is refused where it is written", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "zod_date",
        input: z.object({ at: z.date() }),
        output: z.object({ at: z.date() }),
        options: { retry: { maxAttempts: 1 } },
      }),
    );
    await assert.rejects(
      () => job.enqueue({ at: new Date() }),
      (error: unknown) => error instanceof ValidationError && /as stored \(JSON\)/.test(error.message),
    );
    assert.equal(await rowCount("zod_date"), 0);
    const strings = underway.job(
      defineJob({
        queue: "zod_date_out",
        input: N,
        output: z.object({ at: z.date() }),
        options: { retry: { maxAttempts: 1 } },
      }),
    );
    const worker = strings.start(async () => ({ at: new Date() }));
    const id = await strings.enqueue({ n: 1 });
    const outcome = await strings.outcome(id);
    await worker.stop();
    // Refused by the worker before it wrote a success no reader could load.
    assert.equal(outcome._tag, "failed");
    const { rows } = await db().pool.query<{ state: string }>(
      "select state::text from underway.task_all where id = $1",
      [id],
    );
    assert.equal(rows[0]?.state, "failed");
  });

  it("an unsubscribe and a subscribe in one tick keep outcomes flowing", async () => {
    const underway = await connect();
    const producer = await connect();
    const job = underway.job(defineJob({ queue: "churn", input: N }));
    for (let trial = 0; trial < 5; trial += 1) {
      const first = job.outcomes$.subscribe();
      await underway.listening();
      first.unsubscribe();
      const seen = firstValueFrom(job.outcomes$);
      await underway.listening();
      const id = await producer
        .job(defineJob({ queue: "churn", input: N }))
        .enqueue({ n: trial }, { delayMs: 60_000 });
      await producer.job(defineJob({ queue: "churn", input: N })).cancel(id);
      const outcome = await Promise.race([
        seen,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 3_000)),
      ]);
      assert.equal(outcome?._tag, "cancelled", `trial ${trial}`);
    }
  });

  it("step options and nextAfter delays are checked where they are written", async () => {
    const def = defineStepJob({ queue: "step_options", input: N });
    const first = Steps.of(def).step(async ({ n }) => next({ n }));
    assert.throws(() => first.step(async ({ n }) => done(n), { timeoutMs: -1 }), ConfigError);
    assert.throws(
      () => first.step(async ({ n }) => done(n), { retry: { initialIntervalMs: 1.5 } }),
      ConfigError,
    );
    assert.throws(() => first.step(async ({ n }) => done(n), { uniqueKey: "s2" }), ConfigError);
    assert.throws(() => nextAfter({ n: 1 }, -5), ConfigError);
    assert.throws(() => nextAfter({ n: 1 }, Number.NaN), ConfigError);
  });

  it("options of the wrong type or out of a column's range are ConfigErrors, not database errors", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "option_types", input: N }));
    const bad: unknown[] = [
      { retry: { maxAttempts: 1e10 } },
      { concurrencyLimit: 2 ** 31 },
      { retry: { initialIntervalMs: 1.5 } },
      { ttlMs: 1.5 },
      { retry: { initialIntervalMs: null } },
      { retry: { jitter: true } },
      { retry: { initialIntervalMs: "5" } },
      { retry: "x" },
      { retry: null },
    ];
    for (const options of bad)
      await assert.rejects(
        () => job.enqueue({ n: 1 }, options as never),
        ConfigError,
        JSON.stringify(options),
      );
    assert.equal(await rowCount("option_types"), 0);
  });

  it("the strictest limit of a key wins when its tasks were enqueued with different limits", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "mixed_limits", input: N }));
    let running = 0;
    let peak = 0;
    const worker = job.start(
      async ({ n }) => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, n === 0 ? 600 : 100));
        running -= 1;
        return null;
      },
      { concurrency: 4 },
    );
    const strict = await job.enqueue({ n: 0 }, { concurrencyKey: "m", concurrencyLimit: 1 });
    await eventually(() => running === 1, 5_000, "the strict task to start");
    const loose = await job.enqueueMany(
      [1, 2, 3].map((n) => ({ n })),
      { concurrencyKey: "m", concurrencyLimit: 3 },
    );
    await Promise.all([strict, ...loose].map((id) => job.result(id)));
    await worker.stop();
    // While the limit-1 task ran, nothing else of its key did.
    const { rows } = await db().pool.query<{ overlaps: number }>(
      `select count(*)::int as overlaps from underway.task_all s, underway.task o
        where s.id = $1 and o.queue_name = 'mixed_limits' and o.id <> s.id
          and o.started_at < s.finished_at and o.finished_at > s.started_at`,
      [strict],
    );
    assert.equal(rows[0]?.overlaps, 0);
  });

  it("a hostile id gets a ValidationError", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "hostile_ids", input: N }));
    const hostile = [
      Object.create(null),
      {
        toString() {
          throw new Error("boom");
        },
      },
    ];
    for (const id of hostile) assert.throws(() => job.result(id as string), ValidationError);
  });
});

describe("two clients with stopOnSignals in one process", () => {
  it("exit only once both have closed: the busy one's task finishes", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "two_clients", input: N }));
    const child = spawnFixture("twoClients", { url: db().url });
    await child.waitFor((line) => line["ready"] === true, 20_000, "ready");
    const id = await job.enqueue({ n: 1 });
    await child.waitFor((line) => line["started"] === true, 20_000, "the task to start");
    child.child.kill("SIGTERM");
    assert.equal(await child.exited, 0);
    const { rows } = await db().pool.query<{ state: string }>(
      "select state::text from underway.task_all where id = $1",
      [id],
    );
    assert.equal(rows[0]?.state, "succeeded");
  });
});
