import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { AbortError, defineJob, type JsonValue, type Outcome, type TaskContext } from "../src/index.ts";
import { createRunTable, statesOf, summary } from "./support/faults.ts";
import { eventually, gate, recordingLogger, useDatabase } from "./support/harness.ts";
import { spawnFixture } from "./support/processes.ts";

const N = t.type({ n: t.number });
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe("fencing, timeouts and shutdown", () => {
  const { db, connect } = useDatabase("fencing");

  const taskRow = async (id: string) => {
    const { rows } = await db().pool.query<{ state: string; attempt: number; output: unknown }>(
      "select state::text, attempt, output from underway.task_all where id = $1",
      [id],
    );
    return rows[0];
  };
  const attemptsOf = async (id: string) => {
    const { rows } = await db().pool.query<{ attempt: number; state: string; error: string }>(
      "select attempt, state, error from underway.task_attempt where task_id = $1 order by attempt",
      [id],
    );
    return rows;
  };

  it("ignores the late result of a worker whose task was reclaimed: no write, no outcome, a warning", async () => {
    const logA = recordingLogger();
    const clientA = await connect({ logger: logA });
    const clientB = await connect();
    const fenced = defineJob({ queue: "fenced", input: N, output: t.string });
    const jobA = clientA.job(fenced);
    const jobB = clientB.job(fenced);
    const late = gate();
    const startedA = new Set<number>();
    const notified: Array<Outcome<string>> = [];
    const watching = jobB.outcomes$.subscribe((outcome) => notified.push(outcome));
    await clientB.listening();
    const ids = await jobA.enqueueMany([{ n: 1 }, { n: 2 }]);
    // A never renews a lease in this test (its heartbeat is as good as blocked).
    // Worker A hangs past its lease and then succeeds (n = 1) or fails (n = 2).
    const workerA = jobA.start(
      async ({ n }) => {
        startedA.add(n);
        await late.opened;
        if (n === 2) throw new Error("late failure from A");
        return "from A";
      },
      { concurrency: 2, heartbeatTickMs: 600_000, reapIntervalMs: 0 },
    );
    const fromA: Array<Outcome<string>> = [];
    workerA.outcomes$.subscribe((outcome) => fromA.push(outcome));
    await eventually(() => startedA.size === 2, 5_000, "A running both");
    await db().pool.query(
      "update underway.task set lease_expires_at = now() - interval '1 second' where id = any($1)",
      [ids],
    );
    // B's reaper takes the tasks back; B runs and completes them.
    const workerB = jobB.start(async () => "from B", {
      concurrency: 2,
      pollIntervalMs: 100,
      reapIntervalMs: 100,
    });
    await eventually(async () => (await statesOf(db().pool, "fenced"))["succeeded"] === 2, 5_000, "B done");
    late.open();
    await eventually(
      () => logA.lines.filter((line) => line.message.includes("(fenced)")).length === 2,
      5_000,
      "A's fenced warnings",
    );
    await sleep(300);
    await Promise.all([workerA.stop(), workerB.stop()]);
    watching.unsubscribe();

    for (const id of ids) {
      assert.deepEqual(await taskRow(id), { state: "succeeded", attempt: 2, output: "from B" });
      assert.deepEqual(
        (await attemptsOf(id)).map((row) => [row.attempt, row.state]),
        [[1, "lost"]],
      );
    }
    assert.deepEqual(fromA, [], "A's worker emitted no outcome");
    assert.deepEqual(
      notified
        .filter((outcome) => outcome._tag !== "retrying")
        .map((outcome) => [outcome.taskId, outcome._tag]),
      ids.map((id) => [id, "succeeded"]),
      "one final outcome per task, B's",
    );
  });

  it("aborts a timed-out handler, records the attempt as timed out, and retries it", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "timeout",
        input: N,
        options: { timeoutMs: 300, retry: { initialIntervalMs: 50, jitter: 0 } },
      }),
    );
    const signals: Array<{ n: number; attempt: number; signal: AbortSignal; ended?: number }> = [];
    // n = 1 ignores its signal, n = 2 honours it; both succeed on their second attempt.
    const worker = job.start(
      async ({ n }, { attempt, signal }) => {
        const run: (typeof signals)[number] = { n, attempt, signal };
        signals.push(run);
        if (attempt > 1) return "second try";
        if (n === 1) await sleep(1_500);
        else
          await new Promise((_, fail) => signal.addEventListener("abort", () => fail(new Error("stopped"))));
        run.ended = Date.now();
        return "too late";
      },
      { pollIntervalMs: 50 },
    );
    const ids = await job.enqueueMany([{ n: 1 }, { n: 2 }]);
    const outcomes = await Promise.all(ids.map((id) => job.outcome(id)));
    await worker.stop();

    for (const [index, id] of ids.entries()) {
      assert.equal(outcomes[index]?._tag, "succeeded");
      assert.deepEqual(await taskRow(id), { state: "succeeded", attempt: 2, output: "second try" });
      const { rows } = await db().pool.query<{ state: string; error: string; ms: number }>(
        `select state, error, extract(epoch from finished_at - started_at) * 1000 as ms
           from underway.task_attempt where task_id = $1`,
        [id],
      );
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.state, "timed_out");
      assert.equal(rows[0]?.error, "timed out after 300 ms");
      // Written at the timeout, not when the deaf handler got round to returning.
      const ms = Number(rows[0]?.ms);
      assert.ok(ms >= 290 && ms < 1_000, `attempt 1 lasted ${ms} ms`);
    }
    const firsts = signals.filter((run) => run.attempt === 1);
    assert.equal(firsts.length, 2);
    for (const run of firsts) {
      assert.equal(run.signal.aborted, true);
      const reason: unknown = run.signal.reason;
      assert.ok(reason instanceof AbortError && reason.kind === "timeout", String(reason));
    }
    assert.ok(signals.filter((run) => run.attempt === 2).every((run) => !run.signal.aborted));
  });

  it("stops gracefully mid-run: finished tasks succeed, cut-off ones are pending again, none in progress", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "stopping",
        input: N,
        // A cut-off attempt that was the last one must not fail the task either.
        optionsFor: ({ n }) => (n === 4 ? { retry: { maxAttempts: 1 } } : {}),
      }),
    );
    let slow = true;
    const started = new Set<number>();
    // n < 2 finish within the grace period; n >= 2 would take 5 s (n = 2 honours its signal).
    const handler = async ({ n }: { n: number }, { signal }: TaskContext) => {
      started.add(n);
      const ms = n < 2 || !slow ? 150 : 5_000;
      await new Promise<void>((done, fail) => {
        const timer = setTimeout(done, ms);
        if (n === 2)
          signal.addEventListener("abort", () => {
            clearTimeout(timer);
            fail(new Error("aborted"));
          });
      });
      return n;
    };
    const ids = await job.enqueueMany([0, 1, 2, 3, 4].map((n) => ({ n })));
    const worker = job.start(handler, { concurrency: 5, shutdownGraceMs: 500 });
    await eventually(() => started.size === 5, 5_000, "all five running");
    const stopping = Date.now();
    await worker.stop();
    const stopMs = Date.now() - stopping;
    assert.ok(stopMs >= 450 && stopMs < 2_000, `stop took ${stopMs} ms`);
    assert.deepEqual(await statesOf(db().pool, "stopping"), { succeeded: 2, pending: 3 });
    for (const id of ids.slice(2)) {
      assert.deepEqual(
        (await attemptsOf(id)).map((row) => [row.attempt, row.state, row.error]),
        [[1, "failed", "aborted: worker shut down before the task finished"]],
      );
    }
    // None lost: the next worker finishes the rest.
    slow = false;
    const next = job.start(handler, { concurrency: 5 });
    const outcomes = await Promise.all(ids.map((id) => job.outcome(id)));
    await next.stop();
    assert.deepEqual(
      outcomes.map((outcome) => outcome._tag),
      ["succeeded", "succeeded", "succeeded", "succeeded", "succeeded"],
    );
    summary("graceful stop", { tasks: 5, "in flight at stop": 5, "cut off": 3, lost: 0, "stop ms": stopMs });
  });

  it("gives claimed but unstarted tasks back on stop, without spending an attempt", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "unstarted", input: N }));
    let ran = 0;
    const outcomes: Array<Outcome<JsonValue>> = [];
    const watching = job.outcomes$.subscribe((outcome) => outcomes.push(outcome));
    await underway.listening();
    const ids = await job.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    // Hold the claim up with a table lock, so that stop() comes while it is in flight.
    const locker = await db().pool.connect();
    try {
      await locker.query("begin");
      await locker.query("lock table underway.task in exclusive mode");
      const worker = job.start(
        async () => {
          ran += 1;
          return null;
        },
        { pollIntervalMs: 60_000, reapIntervalMs: 0 },
      );
      await eventually(async () => {
        const { rows } = await db().pool.query(
          "select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        );
        return rows.length > 0;
      }, 5_000);
      const stopped = worker.stop();
      await locker.query("commit");
      await stopped;
    } finally {
      await locker.query("rollback");
      locker.release();
    }
    assert.equal(ran, 0);
    const { rows } = await db().pool.query(
      "select state::text, attempt, worker_id from underway.task_all where id = any($1) order by id",
      [ids],
    );
    assert.deepEqual(
      rows,
      ids.map(() => ({ state: "pending", attempt: 0, worker_id: null })),
    );
    const { rows: attempts } = await db().pool.query(
      "select * from underway.task_attempt where task_id = any($1)",
      [ids],
    );
    assert.deepEqual(attempts, []);
    await sleep(200);
    watching.unsubscribe();
    assert.deepEqual(outcomes, [], "a task given back is no outcome");
  });

  it("gives prefetched tasks back on stop, without spending an attempt, while the running one finishes", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "prefetched", input: N }));
    const started: number[] = [];
    const ids = await job.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const worker = job.start(
      async ({ n }) => {
        started.push(n);
        await sleep(400);
        return null;
      },
      { concurrency: 1, prefetch: 2, pollIntervalMs: 60_000, reapIntervalMs: 0 },
    );
    await eventually(async () => (await statesOf(db().pool, "prefetched"))["in_progress"] === 3, 5_000);
    await eventually(() => started.length === 1, 5_000);
    await worker.stop();
    assert.deepEqual(started, [1]);
    const { rows } = await db().pool.query(
      "select state::text, attempt from underway.task_all where id = any($1) order by id",
      [ids],
    );
    assert.deepEqual(rows, [
      { state: "succeeded", attempt: 1 },
      { state: "pending", attempt: 0 },
      { state: "pending", attempt: 0 },
    ]);
  });

  it("a broadcast shutdown from another client stops a worker in another process after its in-flight tasks", async () => {
    const underway = await connect();
    await createRunTable(db().pool);
    // This process only enqueues; the child process runs the handler.
    const job = underway.job(defineJob({ queue: "broadcast", input: N }));
    const child = spawnFixture("faultWorker", { url: db().url, queue: "broadcast", handlerMs: 800 });
    await child.waitFor((line) => line["ready"] === true);
    const ids = await job.enqueueMany([{ n: 1 }, { n: 2 }]);
    await eventually(async () => {
      const { rows } = await db().pool.query("select 1 from fault_run where task_id = any($1)", [ids]);
      return rows.length === 2;
    });
    await underway.shutdownQueue("broadcast");
    const after = await job.enqueue({ n: 3 });
    assert.equal(await child.exited, 0);
    assert.ok(child.lines.some((line) => line["stopped"] === true));
    for (const id of ids) assert.equal((await taskRow(id))?.state, "succeeded");
    // Stopped claiming at once: the task enqueued after the broadcast waits.
    assert.deepEqual(await taskRow(after), { state: "pending", attempt: 0, output: null });
  });

  it("SIGTERM with stopOnSignals finishes the in-flight task, then exits 0", async () => {
    const underway = await connect();
    await createRunTable(db().pool);
    const job = underway.job(defineJob({ queue: "sigterm", input: N }));
    const child = spawnFixture("faultWorker", {
      url: db().url,
      queue: "sigterm",
      handlerMs: 800,
      stopOnSignals: true,
    });
    await child.waitFor((line) => line["ready"] === true);
    const id = await job.enqueue({ n: 1 });
    await eventually(
      async () => (await db().pool.query("select 1 from fault_run where task_id = $1", [id])).rows.length > 0,
    );
    const signalled = Date.now();
    child.child.kill("SIGTERM");
    assert.equal(await child.exited, 0);
    assert.ok(Date.now() - signalled >= 300, "exited before its task finished");
    assert.equal((await taskRow(id))?.state, "succeeded");
  });
  it("a task row locked by another session holds up no other lease: the worker's other tasks run once", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "locked_row",
        input: N,
        options: { heartbeatMs: 1_000, retry: { maxAttempts: 3 } },
      }),
    );
    const runs = new Map<number, number>();
    const worker = job.start(
      async ({ n }) => {
        runs.set(n, (runs.get(n) ?? 0) + 1);
        // Five leases long: only renewals keep each task.
        await sleep(5_000);
        return null;
      },
      { concurrency: 3, prefetch: 0, pollIntervalMs: 100, heartbeatTickMs: 100, reapIntervalMs: 100 },
    );
    const [a, b, c] = await Promise.all([0, 1, 2].map((n) => job.enqueue({ n })));
    if (a === undefined || b === undefined || c === undefined) throw new Error("three tasks");
    await eventually(() => runs.size === 3, 10_000, "all three running");
    // An operator's transaction holds A's row for three and a half leases.
    const operator = await db().pool.connect();
    try {
      await operator.query("begin");
      await operator.query("select 1 from underway.task where id = $1 for update", [a]);
      await sleep(3_500);
      await operator.query("commit");
    } finally {
      operator.release();
    }
    const [outcomeB, outcomeC] = await Promise.all([job.outcome(b), job.outcome(c)]);
    await worker.stop();
    assert.deepEqual(
      [outcomeB, outcomeC].map((outcome) => [outcome._tag, outcome.attempt]),
      [
        ["succeeded", 1],
        ["succeeded", 1],
      ],
    );
    assert.equal(runs.get(1), 1, "B ran once");
    assert.equal(runs.get(2), 1, "C ran once");
  });
});
