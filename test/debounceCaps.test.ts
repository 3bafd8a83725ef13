import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import {
  ConfigError,
  dashboard,
  defineJob,
  defineStepJob,
  QueueFullError,
  type EnqueueResult,
  type Job,
} from "../src/index.ts";
import { depsOf } from "../src/client/clientDeps.ts";
import { runCli } from "../src/cli/runCli.ts";
import { allMigrations } from "../src/migrate.ts";
import { eventually, recordingLogger, useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });
type NJob = Job<{ n: number }, { n: number }, unknown, unknown>;

const defineN = (config: { queue: string; maxPending?: number }) => defineJob({ ...config, input: N });

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe("debounce, throttle and caps", () => {
  const { db, connect } = useDatabase("debounce_caps");

  const rows = async (queue: string) =>
    (
      await db().pool.query<{ id: string; n: number; state: string }>(
        "select id::text, (input->>'n')::int as n, state::text from underway.task_all where queue_name = $1 order by id",
        [queue],
      )
    ).rows;

  /** The same definition bound by `count` clients of their own (pools of their own). */
  const clients = async (count: number, definition: ReturnType<typeof defineN>) => {
    const made: NJob[] = [];
    for (let i = 0; i < count; i++) made.push((await connect()).job(definition) as unknown as NJob);
    return made;
  };

  it("debounce: a burst of 50 enqueues of a key, one after the other, runs once with the last input", async () => {
    const definition = defineN({ queue: "burst" });
    const [job] = await clients(1, definition);
    const runs: number[] = [];
    const results: EnqueueResult[] = [];
    for (let n = 0; n < 50; n++)
      results.push(await job!.enqueueResult({ n }, { uniqueKey: "doc:1", debounceMs: 400 }));
    assert.deepEqual(
      results.map((result) => result.status),
      ["created", ...Array.from({ length: 49 }, () => "debounced")],
    );
    assert.equal(new Set(results.map((result) => result.id)).size, 1);
    const worker = job!.start(async ({ n }) => {
      runs.push(n);
      return null;
    });
    await eventually(() => runs.length > 0, 10_000, "the debounced run");
    await sleep(600);
    await worker.stop();
    assert.deepEqual(runs, [49]);
    assert.equal((await rows("burst")).length, 1);
  });

  it("debounce: 50 enqueues in 100 ms from several clients at once make one task, run once with the last committed input", async () => {
    const definition = defineN({ queue: "burst_many" });
    const jobs = await clients(3, definition);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, n) =>
        // Half at once, the rest 4 ms apart: the burst is over in 100 ms.
        sleep(n < 25 ? 0 : (n - 25) * 4).then(() =>
          jobs[n % jobs.length]!.enqueueResult({ n }, { uniqueKey: "doc:2", debounceMs: 300 }),
        ),
      ),
    );
    assert.equal(results.filter((result) => result.status === "created").length, 1);
    assert.equal(results.filter((result) => result.status === "debounced").length, 49);
    assert.equal(new Set(results.map((result) => result.id)).size, 1);
    const [stored] = await rows("burst_many");
    const runs: number[] = [];
    const worker = jobs[0]!.start(async ({ n }) => {
      runs.push(n);
      return null;
    });
    await eventually(() => runs.length > 0, 10_000, "the debounced run");
    await sleep(500);
    await worker.stop();
    // Updates of one row apply in commit order: the stored input is the last committed.
    assert.deepEqual(runs, [stored!.n]);
    assert.equal((await rows("burst_many")).length, 1);
  });

  it("debounce: an enqueue while the key's task runs makes a new task, debounced from now", async () => {
    const [job] = await clients(1, defineN({ queue: "debounce_running" }));
    let release!: () => void;
    const held = new Promise<void>((done) => (release = done));
    const runs: number[] = [];
    const worker = job!.start(async ({ n }) => {
      runs.push(n);
      if (n === 1) await held;
      return null;
    });
    const first = await job!.enqueueResult({ n: 1 }, { uniqueKey: "k", debounceMs: 50 });
    await eventually(() => runs.length === 1, 10_000, "the first run");
    const second = await job!.enqueueResult({ n: 2 }, { uniqueKey: "k", debounceMs: 50 });
    assert.equal(second.status, "created");
    assert.notEqual(second.id, first.id);
    release();
    await eventually(() => runs.length === 2, 10_000, "the second run");
    await worker.stop();
    assert.deepEqual(runs, [1, 2]);
  });

  it("explain: a debounced task not yet due names its key, whose enqueues push its start back", async () => {
    const underway = await connect();
    const job = underway.job(defineN({ queue: "debounce_why" }));
    const { id } = await job.enqueueResult({ n: 1 }, { uniqueKey: "doc:9", debounceMs: 60_000 });
    await job.enqueueResult({ n: 2 }, { uniqueKey: "doc:9", debounceMs: 60_000 });
    const why = await underway.ops.explain(id);
    const delayed = why?.reasons.find((reason) => reason.kind === "delayed");
    assert.ok(delayed !== undefined && delayed.kind === "delayed", JSON.stringify(why));
    assert.equal(delayed.debounceKey, "doc:9");
    assert.match(why?.summary ?? "", /debounced: each enqueue of key "doc:9" pushes its start back/);
  });

  it("throttle: one task per window, however often the key is enqueued", async () => {
    const [job] = await clients(1, defineN({ queue: "throttle" }));
    const runs: number[] = [];
    const worker = job!.start(async ({ n }) => {
      runs.push(n);
      return null;
    });
    const results: EnqueueResult[] = [];
    const started = Date.now();
    for (let n = 0; Date.now() - started < 1_150; n++) {
      results.push(await job!.enqueueResult({ n }, { uniqueKey: "ping", uniqueForMs: 500 }));
      await sleep(20);
    }
    await sleep(200);
    await worker.stop();
    const created = results.filter((result) => result.status === "created");
    // Windows open at about 0, 500 and 1,000 ms.
    assert.ok(created.length >= 2 && created.length <= 3, `${created.length} created`);
    assert.ok(results.some((result) => result.status === "throttled"));
    assert.equal(runs.length, created.length);
    const { rows: times } = await db().pool.query<{ gap: number }>(
      `select extract(epoch from created_at - lag(created_at) over (order by id)) * 1000 as gap
         from underway.task_all where queue_name = 'throttle' order by id`,
    );
    for (const { gap } of times.slice(1)) assert.ok(gap >= 500, `two tasks ${gap} ms apart`);
  });

  it("throttle: concurrent enqueues of one key from several clients create exactly one task", async () => {
    const jobs = await clients(3, defineN({ queue: "throttle_race" }));
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, n) =>
        jobs[n % jobs.length]!.enqueueResult({ n }, { uniqueKey: "once", uniqueForMs: 60_000 }),
      ),
    );
    assert.equal(results.filter((result) => result.status === "created").length, 1);
    assert.equal(new Set(results.map((result) => result.id)).size, 1);
    assert.equal((await rows("throttle_race")).length, 1);
  });

  it("throttle: a window over while its task is still pending returns the pending task", async () => {
    const [job] = await clients(1, defineN({ queue: "throttle_pending" }));
    const first = await job!.enqueueResult({ n: 1 }, { uniqueKey: "k", uniqueForMs: 50, delayMs: 60_000 });
    await sleep(120);
    const second = await job!.enqueueResult({ n: 2 }, { uniqueKey: "k", uniqueForMs: 50, delayMs: 60_000 });
    assert.deepEqual(second, { id: first.id, status: "existing" });
    assert.equal((await rows("throttle_pending")).length, 1);
  });

  it("a start deadline holds for throttled and debounced enqueues (the latest enqueue's, for a debounced task); one before the debounced start is refused", async () => {
    const [job] = await clients(1, defineN({ queue: "flow_deadline" }));
    const deadlineIn = async (id: string) =>
      (
        await db().pool.query<{ ms: number | null }>(
          "select (extract(epoch from start_by - now()) * 1000)::float8 as ms from underway.task where id = $1",
          [id],
        )
      ).rows[0]?.ms;
    const throttled = await job!.enqueueResult(
      { n: 1 },
      { uniqueKey: "t", uniqueForMs: 60_000, startWithinMs: 30_000 },
    );
    assert.equal(throttled.status, "created");
    const t1 = await deadlineIn(throttled.id);
    assert.ok(
      t1 !== null && t1 !== undefined && t1 > 25_000 && t1 <= 30_000,
      `throttled deadline in ${t1} ms`,
    );
    const first = await job!.enqueueResult(
      { n: 1 },
      { uniqueKey: "d", debounceMs: 1_000, startWithinMs: 20_000 },
    );
    const second = await job!.enqueueResult(
      { n: 2 },
      { uniqueKey: "d", debounceMs: 1_000, startWithinMs: 40_000 },
    );
    assert.deepEqual([first.status, second.status, second.id], ["created", "debounced", first.id]);
    const d1 = await deadlineIn(first.id);
    assert.ok(
      d1 !== null && d1 !== undefined && d1 > 35_000 && d1 <= 40_000,
      `debounced deadline in ${d1} ms`,
    );
    // Due in 1 s: a deadline of half a second could never be met.
    await assert.rejects(
      job!.enqueue({ n: 3 }, { uniqueKey: "e", debounceMs: 1_000, startWithinMs: 500 }),
      /startWithinMs \(500\) must exceed delayMs \+ debounceMs \(1000\)/,
    );
  });

  it("enqueueManyResults folds duplicate keys of one call into the first, in input order", async () => {
    const [job] = await clients(1, defineN({ queue: "many_flow" }));
    const throttled = await job!.enqueueManyResults([{ n: 1 }, { n: 2 }, { n: 3 }], {
      uniqueKey: "t",
      uniqueForMs: 60_000,
    });
    assert.deepEqual(
      throttled.map((result) => result.status),
      ["created", "existing", "existing"],
    );
    assert.equal(new Set(throttled.map((result) => result.id)).size, 1);
    const debounced = await job!.enqueueManyResults([{ n: 4 }, { n: 5 }], {
      uniqueKey: "d",
      debounceMs: 60_000,
    });
    assert.deepEqual(
      debounced.map((result) => result.status),
      ["created", "debounced"],
    );
    const stored = (await rows("many_flow")).map((row) => row.n);
    assert.deepEqual(stored, [1, 5]);
    // A plain batch says which inputs made new tasks.
    const plain = await job!.enqueueManyResults([{ n: 6 }, { n: 7 }, { n: 8 }], {});
    assert.deepEqual(
      plain.map((result) => result.status),
      ["created", "created", "created"],
    );
    const keyed = await job!.enqueueManyResults([{ n: 9 }, { n: 10 }], { uniqueKey: "u" });
    assert.deepEqual(
      keyed.map((result) => result.status),
      ["created", "existing"],
    );
  });

  it("maxPending: throughput counts the enqueues a cap let through, not those it turned away", async () => {
    const underway = await connect();
    const job = underway.job(defineN({ queue: "capped_throughput", maxPending: 2 }));
    const since = new Date(Date.now() - 120_000);
    await job.enqueue({ n: 1 });
    await assert.rejects(job.enqueueMany([{ n: 2 }, { n: 3 }]), QueueFullError);
    await job.enqueueMany([{ n: 4 }]);
    await assert.rejects(job.enqueue({ n: 5 }), QueueFullError);
    const client = await db().pool.connect();
    try {
      await client.query("begin");
      await assert.rejects(job.enqueue({ n: 6 }, { client }), QueueFullError);
      await client.query("commit");
    } finally {
      client.release();
    }
    await depsOf(underway).throughput.flush();
    const buckets = await underway.ops.throughput({ queue: "capped_throughput", since });
    assert.equal(
      buckets.reduce((total, bucket) => total + bucket.enqueued, 0),
      2,
      "the two tasks written",
    );
  });

  it("maxPending: an enqueue past the cap rejects with QueueFullError and writes nothing", async () => {
    const [job] = await clients(1, defineN({ queue: "capped", maxPending: 3 }));
    await job!.enqueueMany([{ n: 1 }, { n: 2 }]);
    await assert.rejects(job!.enqueueMany([{ n: 3 }, { n: 4 }]), (error: unknown) => {
      assert.ok(error instanceof QueueFullError);
      assert.equal(error.queue, "capped");
      assert.equal(error.cap, 3);
      assert.equal(error.pending, 2);
      assert.equal(error.adding, 2);
      assert.match(error.message, /queue capped is full: 2 pending of a cap of 3/);
      return true;
    });
    assert.equal((await rows("capped")).length, 2, "enqueueMany wrote none of its batch");
    await job!.enqueue({ n: 3 });
    await assert.rejects(job!.enqueue({ n: 4 }), QueueFullError);
    assert.equal((await rows("capped")).length, 3);
    // A unique key already held adds nothing: not refused.
    const held = await job!
      .enqueueResult({ n: 5 }, { uniqueKey: "same", delayMs: 1 })
      .catch((error) => error);
    assert.ok(held instanceof QueueFullError);
    // In the caller's transaction: the rejection undoes the enqueue only, the transaction goes on.
    const client = await db().pool.connect();
    try {
      await client.query("begin");
      await client.query("create table caller_row (n int)");
      await assert.rejects(job!.enqueue({ n: 6 }, { client }), QueueFullError);
      await client.query("insert into caller_row values (1)");
      await client.query("commit");
    } finally {
      client.release();
    }
    assert.equal((await db().pool.query("select * from caller_row")).rows.length, 1);
    assert.equal((await rows("capped")).length, 3);
  });

  it("maxPending: concurrent enqueues from several clients never exceed the cap", async () => {
    const jobs = await clients(4, defineN({ queue: "capped_race", maxPending: 25 }));
    const outcomes = await Promise.allSettled(
      Array.from({ length: 80 }, (_, n) => jobs[n % jobs.length]!.enqueue({ n })),
    );
    const admitted = outcomes.filter((outcome) => outcome.status === "fulfilled").length;
    const refused = outcomes.filter(
      (outcome) => outcome.status === "rejected" && outcome.reason instanceof QueueFullError,
    ).length;
    assert.equal(admitted, 25);
    assert.equal(refused, 55);
    assert.equal((await rows("capped_race")).length, 25);
  });

  it("maxPending: tasks started leave room; retries going back to pending are not refused", async () => {
    const [job] = await clients(1, defineN({ queue: "capped_room", maxPending: 1 }));
    let attempts = 0;
    const worker = job!.start(async () => {
      attempts += 1;
      if (attempts === 1) throw new Error("once more");
      return null;
    });
    await job!.enqueue({ n: 1 }, { retry: { initialIntervalMs: 300, maxIntervalMs: 300, jitter: 0 } });
    await eventually(() => attempts >= 1, 10_000, "the first attempt");
    await eventually(async () => (await rows("capped_room")).every((row) => row.state === "pending"));
    // The retry is pending again and fills the cap: a new enqueue is refused, the retry runs.
    await assert.rejects(job!.enqueue({ n: 2 }), QueueFullError);
    await eventually(() => attempts === 2, 10_000, "the retry");
    await eventually(async () => (await rows("capped_room")).every((row) => row.state === "succeeded"));
    await job!.enqueue({ n: 3 });
    await worker.stop();
  });

  it("maxPending: an operator's cap wins over the definition's in every client until cleared", async () => {
    const underway = await connect();
    const job = underway.job(defineN({ queue: "capped_ops", maxPending: 1 }));
    const other = (await connect()).job(defineN({ queue: "capped_ops", maxPending: 1 }));
    await job.enqueue({ n: 1 });
    await assert.rejects(other.enqueue({ n: 2 }), QueueFullError);
    const set = await underway.ops.setMaxPending("capped_ops", 3);
    assert.deepEqual([set.source, set.maxPending], ["operator", 3]);
    await other.enqueueMany([{ n: 2 }, { n: 3 }]);
    await assert.rejects(
      job.enqueue({ n: 4 }),
      (error: unknown) => error instanceof QueueFullError && error.cap === 3,
    );
    await underway.ops.setMaxPending("capped_ops", null);
    await job.enqueue({ n: 4 });
    const cleared = await underway.ops.clearMaxPending("capped_ops");
    assert.deepEqual([cleared.source, cleared.maxPending, cleared.setAt], ["definition", null, null]);
    await assert.rejects(
      job.enqueue({ n: 5 }),
      (error: unknown) => error instanceof QueueFullError && error.cap === 1,
    );
    assert.equal((await rows("capped_ops")).length, 4);
    for (const bad of [-1, 1.5, Number.NaN, "3"])
      await assert.rejects(
        underway.ops.setMaxPending("capped_ops", bad as never),
        /setMaxPending: maxPending must be/,
      );
    assert.deepEqual((await underway.ops.maxPending("capped_ops")).source, "definition");
  });

  it("maxPending: an operator's cap is refused, writing nothing, for a queue whose definition has none; accepted once one with a cap registers", async () => {
    const underway = await connect();
    const queue = "uncounted_ops";
    // Before any definition registers, nothing is known: the cap is stored
    // as before (a capped definition registering later applies it).
    assert.equal((await underway.ops.maxPending(queue)).counted, null);
    const uncapped = underway.job(defineN({ queue }));
    await uncapped.enqueue({ n: 1 });
    assert.equal((await underway.ops.maxPending(queue)).counted, false);
    for (const cap of [0, 1, 1_000]) {
      await assert.rejects(
        underway.ops.setMaxPending(queue, cap),
        (error: unknown) =>
          error instanceof ConfigError &&
          /setMaxPending: queue "uncounted_ops" does not count its pending tasks/.test(error.message) &&
          /has no maxPending/.test(error.message) &&
          /nothing was written/.test(error.message),
      );
      const stored = await underway.ops.maxPending(queue);
      assert.deepEqual([stored.source, stored.maxPending, stored.setAt], ["definition", null, null]);
    }
    // Uncapped enqueues go on, uncounted.
    await uncapped.enqueueMany([{ n: 2 }, { n: 3 }]);
    // "No cap" and "clear" are what the queue has anyway: allowed.
    assert.equal((await underway.ops.setMaxPending(queue, null)).source, "operator");
    assert.equal((await underway.ops.clearMaxPending(queue)).source, "definition");
    // A deploy gives the definition a cap: its first enqueue registers it,
    // and the operator's cap is accepted and holds.
    const capped = (await connect()).job(defineN({ queue, maxPending: 100 }));
    await capped.enqueue({ n: 4 });
    const set = await underway.ops.setMaxPending(queue, 4);
    assert.deepEqual([set.source, set.maxPending, set.counted], ["operator", 4, true]);
    await assert.rejects(
      capped.enqueue({ n: 5 }),
      (error: unknown) => error instanceof QueueFullError && error.cap === 4,
    );
    assert.equal((await rows(queue)).length, 4);
  });

  it("maxPending: a definition without one, registering where an operator's cap is set, is warned that its enqueues ignore it", async () => {
    const operator = await connect();
    const queue = "uncounted_warned";
    // Set before any definition registered: nothing was known, so it was stored.
    assert.equal((await operator.ops.setMaxPending(queue, 2)).counted, null);
    const logger = recordingLogger();
    const producer = (await connect({ logger })).job(defineN({ queue }));
    await producer.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const warned = logger.lines.filter((line) => line.level === "warn");
    assert.equal(warned.length, 1, JSON.stringify(logger.lines));
    assert.match(warned[0]?.message ?? "", /operator's cap on pending tasks that its enqueues do not check/);
    assert.deepEqual([warned[0]?.details?.["queue"], warned[0]?.details?.["operatorCap"]], [queue, 2]);
    assert.equal((await operator.ops.maxPending(queue)).counted, false);
    // A capped definition: no warning, and the operator's cap holds.
    const quiet = recordingLogger();
    const capped = (await connect({ logger: quiet })).job(
      defineN({ queue: "counted_quiet", maxPending: 10 }),
    );
    await operator.ops.setMaxPending("counted_quiet", 1);
    await capped.enqueue({ n: 1 });
    await assert.rejects(capped.enqueue({ n: 2 }), QueueFullError);
    assert.deepEqual(quiet.lines, []);
  });

  it("underway queues max-pending shows, sets, lifts and clears an operator's cap; bad flags are usage errors", async () => {
    const cli = async (...args: string[]) => {
      let out = "";
      let err = "";
      const code = await runCli(
        ["queues", "max-pending", ...args],
        { out: (text) => (out += text), err: (text) => (err += text) },
        { DATABASE_URL: db().url },
      );
      return { code, out, err };
    };
    const job = (await connect()).job(defineN({ queue: "capped_cli", maxPending: 5 }));
    const set = await cli("capped_cli", "--set", "1");
    assert.equal(set.code, 0, set.err);
    assert.match(set.out, /cap: +1 pending: an operator's setting/);
    await job.enqueue({ n: 1 });
    await assert.rejects(job.enqueue({ n: 2 }), QueueFullError);
    assert.equal((await cli("capped_cli", "--off")).code, 0);
    await job.enqueue({ n: 2 });
    const json = await cli("capped_cli", "--clear", "--json");
    assert.equal(json.code, 0, json.err);
    assert.deepEqual(JSON.parse(json.out), {
      queue: "capped_cli",
      source: "definition",
      maxPending: null,
      setAt: null,
      counted: true,
    });
    assert.match((await cli("capped_cli")).out, /the definition's maxPending/);
    // A queue whose definition has no maxPending: --set is refused (a usage
    // error naming why), the others are allowed; the listing says so.
    await (await connect()).job(defineN({ queue: "uncounted_cli" })).enqueue({ n: 1 });
    const uncounted = await cli("uncounted_cli", "--set", "3");
    assert.equal(uncounted.code, 2, uncounted.err);
    assert.match(uncounted.err, /does not count its pending tasks/);
    assert.match((await cli("uncounted_cli")).out, /counted: +no: enqueues do not count pending tasks/);
    assert.equal((await cli("uncounted_cli", "--off")).code, 0);
    for (const [args, message] of [
      [["capped_cli", "--set", "-1"], /--set/],
      [["capped_cli", "--set", "2", "--off"], /one of them/],
      [[], /name the queue/],
    ] as const) {
      const refused = await cli(...args);
      assert.equal(refused.code, 2, refused.err);
      assert.match(refused.err, message);
    }
  });

  it("rejects option typos and bad values, naming the option", async () => {
    const [job] = await clients(1, defineN({ queue: "typos" }));
    const bad: Array<[() => unknown, RegExp]> = [
      [() => defineJob({ queue: "q", input: N, maxPending: -1 }), /maxPending must be an integer from 0/],
      [() => defineJob({ queue: "q", input: N, maxPending: 1.5 }), /maxPending/],
      [
        () => defineJob({ queue: "q", input: N, maxPendng: 3 } as never),
        /unknown option "maxPendng".*maxPending/,
      ],
      [
        () => defineJob({ queue: "q", input: N, options: { debounceMs: 100 } }),
        /debounceMs needs a uniqueKey/,
      ],
    ];
    bad.push([
      () => defineStepJob({ queue: "q", input: N, options: { uniqueKey: "k", debounceMs: 100 } }),
      /defineStepJob: options.uniqueForMs and options.debounceMs apply to tasks, not to multi-step job runs/,
    ]);
    for (const [make, message] of bad)
      assert.throws(make, (error: unknown) => error instanceof ConfigError && message.test(error.message));
    const rejected: Array<[Record<string, unknown>, RegExp]> = [
      [{ uniqueKey: "k", uniqueFor: 100 }, /unknown option "uniqueFor" \(did you mean "uniqueForMs"\?\)/],
      [{ uniqueKey: "k", debounce: 100 }, /unknown option "debounce" \(did you mean "debounceMs"\?\)/],
      [{ uniqueKey: "k", debounceMs: 0 }, /debounceMs must be an integer from 1/],
      [{ uniqueKey: "k", uniqueForMs: "1s" }, /uniqueForMs must be an integer/],
      [{ uniqueForMs: 100 }, /uniqueForMs needs a uniqueKey/],
      [{ uniqueKey: "k", uniqueForMs: 100, debounceMs: 100 }, /not both/],
    ];
    for (const [options, message] of rejected) {
      await assert.rejects(job!.enqueue({ n: 1 }, options as never), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, message);
        return true;
      });
    }
    assert.equal((await rows("typos")).length, 0);
  });

  it("carries tasks of a schema at 0016 over to 0018: they run and end with their columns", async () => {
    const schema = "carry18";
    const pool = db().pool;
    const before = allMigrations(schema).filter((migration) => migration.version <= 16);
    await pool.query(`begin;\n${before.map((migration) => migration.sql).join("\n")}\ncommit;`);
    await pool.query(`insert into carry18.queue (name, dlq_name) values ('carry', null)`);
    await pool.query(
      `insert into carry18.task (queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient,
         retry_jitter, timeout_ms, heartbeat_ms, ttl_ms, group_key, rate_key)
       values ('carry', '{"n":1}', 3, 10, 20, 2, 0, 60000, 30000, 86400000, 'tenant', 'rk')`,
    );
    const underway = await connect({ schema });
    {
      const job = underway.job(defineN({ queue: "carry" }));
      const worker = job.start(async () => null);
      await eventually(async () => {
        const { rows: done } = await pool.query(
          "select group_key, rate_key, debounce_key from carry18.task_finished where queue_name = 'carry'",
        );
        return done.length === 1 && done[0].group_key === "tenant" && done[0].rate_key === "rk";
      });
      await worker.stop();
    }
  });
  it("shows the pending cap on the dashboard's queue page and changes it by the form, with the CSRF rules of every action", async () => {
    const underway = await connect();
    const queue = "cap_page";
    const job = underway.job(defineN({ queue, maxPending: 2 }));
    const audits: unknown[] = [];
    const handle = dashboard(underway, { onAudit: (entry) => audits.push(entry) });
    const local = { remoteAddress: "127.0.0.1" };
    const get = async (path: string) => (await handle(new Request(`http://127.0.0.1${path}`), local)).text();
    const page = await get(`/queues/${queue}`);
    assert.match(page, /id="max-pending"\s+data-source="definition"/);
    assert.match(page, /each enqueue's definition's <code>maxPending<\/code>/);
    assert.match(page, /id="cap-form"/);
    const token = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
    const post = (
      fields: Record<string, string>,
      headers: Record<string, string> = { origin: "http://127.0.0.1" },
    ) =>
      handle(
        new Request(`http://127.0.0.1/queues/${queue}/maxpending`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
          body: new URLSearchParams(fields).toString(),
        }),
        local,
      );
    const stored = async () => underway.ops.maxPending(queue);
    assert.equal((await post({ do: "set", cap: "5" })).status, 403, "no token");
    assert.equal((await post({ csrf: token, do: "set", cap: "5" }, {})).status, 403, "no Origin");
    for (const cap of ["-1", "1e3", "2.5", "", "9999999999", "5; drop table"]) {
      const bad = await post({ csrf: token, do: "set", cap });
      assert.equal(bad.status, 400, cap);
      assert.match(await bad.text(), /The cap must be a whole number from 0 to 2147483647/);
    }
    assert.equal((await post({ csrf: token, do: "raise", cap: "5" })).status, 400, "unknown verb");
    assert.equal((await stored()).source, "definition", "refusals wrote nothing");
    // The operator's cap holds for the next enqueue: 1 pending, a cap of 1 refuses a second.
    const set = await post({ csrf: token, do: "set", cap: "1" });
    assert.equal(set.status, 303);
    assert.match(set.headers.get("location") ?? "", new RegExp(`^/queues/${queue}\\?notice=`));
    assert.deepEqual(
      { ...(await stored()), setAt: null },
      { queue, source: "operator", maxPending: 1, setAt: null, counted: null },
    );
    await job.enqueue({ n: 1 });
    await assert.rejects(job.enqueue({ n: 2 }), QueueFullError);
    assert.match(
      await get(`/queues/${queue}`),
      /<strong>1<\/strong> pending at most, an operator's setting since/,
    );
    assert.equal((await post({ csrf: token, do: "off" })).status, 303);
    assert.equal((await stored()).maxPending, null);
    assert.match(await get(`/queues/${queue}`), /<strong>no cap<\/strong>, an operator's setting/);
    await job.enqueueMany([{ n: 3 }, { n: 4 }, { n: 5 }]);
    assert.equal((await post({ csrf: token, do: "clear" })).status, 303);
    assert.equal((await stored()).source, "definition");
    await assert.rejects(job.enqueue({ n: 6 }), QueueFullError, "the definition's cap of 2 again");
    assert.deepEqual(
      audits.map((entry) => (entry as { action: string; target: unknown }).target),
      [
        { queue, maxPending: 1 },
        { queue, maxPending: null },
        { queue, maxPending: "definition" },
      ],
    );
    // A queue whose definition has no maxPending: the page says its enqueues
    // are not counted, and a cap is refused, naming why, writing nothing.
    const plain = "cap_page_uncounted";
    await underway.job(defineN({ queue: plain })).enqueue({ n: 1 });
    assert.match(
      await get(`/queues/${plain}`),
      /data-counted="false"[\s\S]*does not count pending tasks|do not count pending tasks/,
    );
    const uncounted = await handle(
      new Request(`http://127.0.0.1/queues/${plain}/maxpending`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://127.0.0.1" },
        body: new URLSearchParams({ csrf: token, do: "set", cap: "5" }).toString(),
      }),
      local,
    );
    assert.equal(uncounted.status, 409);
    assert.match(await uncounted.text(), /does not count its pending tasks[\s\S]*Nothing was written/);
    assert.equal((await underway.ops.maxPending(plain)).source, "definition");
    // Read-only: the cap shows, no form, and a POST is refused.
    const readOnly = dashboard(underway, { readOnly: true });
    const shown = await (await readOnly(new Request(`http://127.0.0.1/queues/${queue}`), local)).text();
    assert.match(shown, /id="max-pending"/);
    assert.doesNotMatch(shown, /id="cap-form"/);
    const refused = await readOnly(
      new Request(`http://127.0.0.1/queues/${queue}/maxpending`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://127.0.0.1" },
        body: new URLSearchParams({ csrf: token, do: "off" }).toString(),
      }),
      local,
    );
    assert.equal(refused.status, 403);
    assert.equal((await stored()).source, "definition");
  });
});
