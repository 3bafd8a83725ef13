import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { filter, merge, mergeMap, take, toArray, firstValueFrom } from "rxjs";
import {
  FatalError,
  TaskFailedError,
  defineJob,
  retryDelayBounds,
  defaultRetryPolicy,
} from "../src/index.ts";
import { cross } from "./fixtures/definitions.ts";
import { eventually, recordingLogger, useDatabase } from "./support/harness.ts";
import { spawnFixture } from "./support/processes.ts";

const N = t.type({ n: t.number });
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe("worker", () => {
  const { db, connect } = useDatabase("worker");

  const states = async (queue: string) => {
    const { rows } = await db().pool.query<{ state: string; n: number }>(
      "select state::text, count(*)::int as n from underway.task_all where queue_name = $1 group by state",
      [queue],
    );
    return Object.fromEntries(rows.map((row) => [row.state, row.n]));
  };

  it("runs tasks in priority order, higher first", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "priority", input: N }));
    const order: number[] = [];
    const ids = await Promise.all([
      job.enqueue({ n: 1 }, { priority: 1 }),
      job.enqueue({ n: 2 }, { priority: 10 }),
      job.enqueue({ n: 3 }, { priority: -5 }),
      job.enqueue({ n: 4 }, { priority: 5 }),
    ]);
    const worker = job.start(
      async ({ n }) => {
        order.push(n);
        return null;
      },
      { concurrency: 1 },
    );
    await Promise.all(ids.map((id) => job.outcome(id)));
    await worker.stop();
    assert.deepEqual(order, [2, 4, 1, 3]);
  });

  it("honours a delay", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "delay", input: N }));
    let startedAt = 0;
    const worker = job.start(
      async () => {
        startedAt = Date.now();
        return null;
      },
      { pollIntervalMs: 100 },
    );
    const enqueuedAt = Date.now();
    const id = await job.enqueueAfter({ n: 1 }, 1_200);
    const later = await job.enqueue({ n: 2 }, { runAt: new Date(Date.now() + 60_000) });
    await job.outcome(id);
    await worker.stop();
    assert.ok(startedAt - enqueuedAt >= 1_150, `started after ${startedAt - enqueuedAt} ms`);
    const { rows } = await db().pool.query("select state::text from underway.task_all where id = $1", [
      later,
    ]);
    assert.equal(rows[0].state, "pending");
  });

  it("retries with backoff inside the policy's jitter bounds, records every attempt, then dead-letters", async () => {
    const underway = await connect();
    const retry = {
      maxAttempts: 3,
      initialIntervalMs: 200,
      backoffCoefficient: 2,
      jitter: 0.5,
      maxIntervalMs: 60_000,
    };
    const job = underway.job(defineJob({ queue: "flaky", dlq: "flaky_dlq", input: N, options: { retry } }));
    const seen: string[] = [];
    const sub = job.outcomes$.subscribe((outcome) => seen.push(`${outcome._tag}:${outcome.attempt}`));
    await underway.listening();
    const worker = job.start(
      async ({ n }, { attempt }) => {
        throw new Error(`boom ${n}.${attempt}`);
      },
      { pollIntervalMs: 50 },
    );
    const id = await job.enqueue({ n: 7 });
    const outcome = await job.outcome(id);
    await worker.stop();
    sub.unsubscribe();
    assert.equal(outcome._tag, "failed");
    assert.ok(outcome._tag === "failed" && outcome.deadLetterQueue === "flaky_dlq");
    assert.equal(outcome.queue, "flaky");
    await assert.rejects(
      job.result(id),
      (error: unknown) => error instanceof TaskFailedError && /boom 7.3/.test(error.message),
    );
    await eventually(() => seen.length === 3, 5_000, "three outcomes");
    assert.deepEqual(seen, ["retrying:1", "retrying:2", "failed:3"]);

    const attempts = await job.attempts(id);
    assert.deepEqual(
      attempts.map((a) => [a.attempt, a.state, a.error]),
      [
        [1, "failed", "boom 7.1"],
        [2, "failed", "boom 7.2"],
        [3, "failed", "boom 7.3"],
      ],
    );
    // run_at of each retry was set in the same statement as the attempt's finish.
    const { rows } = await db().pool.query<{ queue_name: string; dlq_from: string; state: string }>(
      "select queue_name, dlq_from, state::text from underway.task_all where id = $1",
      [id],
    );
    assert.deepEqual(rows[0], { queue_name: "flaky_dlq", dlq_from: "flaky", state: "failed" });
    const gaps = attempts.slice(1).map((a, index) => {
      const previous = attempts[index];
      assert.ok(previous?.finishedAt && a.startedAt);
      return a.startedAt.getTime() - previous.finishedAt.getTime();
    });
    gaps.forEach((gap, index) => {
      const [low, high] = retryDelayBounds({ ...defaultRetryPolicy, ...retry }, index + 1);
      // Started no earlier than the delay; at most one poll interval plus slack after its upper bound.
      assert.ok(
        gap >= low - 5 && gap <= high + 400,
        `retry ${index + 1} after ${gap} ms, bounds [${low}, ${high}]`,
      );
    });
  });

  it("stores delays within the jitter bounds for many retries", async () => {
    const underway = await connect();
    const retry = { maxAttempts: 2, initialIntervalMs: 10_000, jitter: 0.5 };
    const job = underway.job(defineJob({ queue: "jitter", input: N, options: { retry } }));
    await job.enqueueMany(Array.from({ length: 40 }, (_, n) => ({ n })));
    const worker = job.start(
      async () => {
        throw new Error("again");
      },
      { concurrency: 20 },
    );
    await eventually(async () => {
      const { rows } = await db().pool.query<{ n: number }>(
        "select count(*)::int as n from underway.task_attempt a join underway.task_all t on t.id = a.task_id where t.queue_name = 'jitter'",
      );
      return rows[0]?.n === 40;
    });
    await worker.stop();
    const { rows } = await db().pool.query<{ delay: number }>(
      `select extract(epoch from (t.run_at - a.finished_at)) * 1000 as delay
         from underway.task_all t join underway.task_attempt a on a.task_id = t.id where t.queue_name = 'jitter'`,
    );
    const delays = rows.map((row) => Number(row.delay));
    assert.equal(delays.length, 40);
    for (const delay of delays) assert.ok(delay >= 5_000 && delay <= 15_000, `delay ${delay}`);
    // Jitter really spreads them.
    assert.ok(Math.max(...delays) - Math.min(...delays) > 1_000);
  });

  it("a FatalError skips the remaining retries", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "fatal", input: N }));
    let runs = 0;
    const worker = job.start(async () => {
      runs += 1;
      throw new FatalError("no such user");
    });
    const id = await job.enqueue({ n: 1 });
    const outcome = await job.outcome(id);
    await worker.stop();
    assert.equal(outcome._tag, "failed");
    assert.equal(runs, 1);
    assert.equal(outcome._tag === "failed" && outcome.deadLetterQueue, null);
  });

  it("stores the handler's output, through an output codec", async () => {
    const underway = await connect();
    const Output = t.type({ doubled: t.number, at: t.string });
    const job = underway.job(defineJob({ queue: "output", input: N, output: Output }));
    const worker = job.start(async ({ n }) => ({ doubled: n * 2, at: "now" }));
    const id = await job.enqueue({ n: 21 });
    assert.deepEqual(await job.result(id), { doubled: 42, at: "now" });
    await worker.stop();
    const { rows } = await db().pool.query("select output from underway.task_all where id = $1", [id]);
    assert.deepEqual(rows[0].output, { doubled: 42, at: "now" });
  });

  it("reports outcomes to another Node process", async () => {
    const underway = await connect();
    const job = underway.job(cross);
    const id = await job.enqueue({ n: 4 }, { delayMs: 1_500 });
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "test/fixtures/watchOutcome.ts", db().url, id],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const lines: Array<Record<string, unknown>> = [];
    let buffer = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split("\n");
      buffer = parts.pop() ?? "";
      for (const part of parts)
        if (part.trim() !== "") lines.push(JSON.parse(part) as Record<string, unknown>);
    });
    const exited = new Promise<number | null>((done) => child.on("exit", done));
    await eventually(() => lines.some((line) => line["ready"] === true), 20_000, "watcher ready");
    const worker = job.start(async ({ n }) => ({ doubled: n * 2 }), { pollIntervalMs: 100 });
    assert.equal(await exited, 0);
    await worker.stop();
    const streamed = lines.find((line) => line["via"] === "stream")?.["outcome"] as Record<string, unknown>;
    const awaited = lines.find((line) => line["via"] === "outcome")?.["outcome"] as Record<string, unknown>;
    assert.deepEqual(streamed?.["output"], { doubled: 8 });
    assert.equal(streamed?.["_tag"], "succeeded");
    assert.deepEqual(awaited?.["output"], { doubled: 8 });
  });

  it("runs a task whose notification was lost, through the poll fallback", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "lost", input: N }));
    const worker = job.start(async ({ n }) => n + 1, { pollIntervalMs: 300 });
    await sleep(200);
    // With triggers off (replica role) the insert sends no NOTIFY at all.
    const client = await db().pool.connect();
    let id: string;
    try {
      await client.query("begin");
      await client.query("set local session_replication_role = replica");
      const columns = job.columnsOf([job.check({ n: 1 })], undefined);
      const { rows } = await client.query<{ id: string }>(
        `insert into underway.task (queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient,
           retry_jitter, timeout_ms, heartbeat_ms, ttl_ms) values ('lost', $1, 5, 1000, 60000, 2, 0.5, 60000, 30000, 1000000)
         returning id::text`,
        [columns.inputs[0]],
      );
      id = rows[0]!.id;
      await client.query("commit");
    } finally {
      client.release();
    }
    assert.equal(await job.result(id), 2);
    await worker.stop();
  });

  it("stops gracefully on unsubscribe: in-flight tasks finish, nothing new is claimed", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "graceful", input: N }));
    const started = new Set<number>();
    await job.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const subscription = job
      .work(
        async ({ n }) => {
          started.add(n);
          await sleep(600);
          return n;
        },
        { concurrency: 3, pollIntervalMs: 100 },
      )
      .subscribe();
    await eventually(() => started.size === 3, 5_000, "three started");
    subscription.unsubscribe();
    await job.enqueue({ n: 4 });
    await eventually(async () => (await states("graceful"))["succeeded"] === 3, 5_000, "in-flight finished");
    await sleep(400);
    assert.deepEqual(await states("graceful"), { succeeded: 3, pending: 1 });
    assert.ok(!started.has(4));
  });

  it("composes: workers of two queues merge, and one queue's outcomes feed the other's enqueue", async () => {
    const underway = await connect();
    const Receipt = t.type({ orderId: t.number, total: t.number });
    const placeOrder = underway.job(
      defineJob({ queue: "orders", input: t.type({ orderId: t.number }), output: Receipt }),
    );
    const sendReceipt = underway.job(defineJob({ queue: "receipts", input: Receipt, output: t.string }));

    const pipeline = placeOrder.outcomes$
      .pipe(
        filter((outcome) => outcome._tag === "succeeded"),
        mergeMap((outcome) => (outcome._tag === "succeeded" ? sendReceipt.enqueue(outcome.output) : [])),
      )
      .subscribe();
    const receiptsDone = firstValueFrom(
      merge(
        placeOrder.work(async ({ orderId }) => ({ orderId, total: orderId * 10 })),
        sendReceipt.work(async ({ orderId, total }) => `receipt ${orderId}: ${total}`),
      ).pipe(
        filter((outcome) => outcome.queue === "receipts" && outcome._tag === "succeeded"),
        take(3),
        toArray(),
      ),
    );
    await underway.listening();
    await placeOrder.enqueueMany([{ orderId: 1 }, { orderId: 2 }, { orderId: 3 }]);
    const done = await receiptsDone;
    pipeline.unsubscribe();
    assert.deepEqual(done.map((outcome) => (outcome._tag === "succeeded" ? outcome.output : null)).sort(), [
      "receipt 1: 10",
      "receipt 2: 20",
      "receipt 3: 30",
    ]);
  });

  it("logs each failed attempt at warn and the final failure at error: queue, task, attempt of max, error; never the input", async () => {
    const log = recordingLogger();
    const underway = await connect({ logger: log });
    const job = underway.job(
      defineJob({
        queue: "logged_failures",
        dlq: "logged_failures_dlq",
        input: t.type({ email: t.string }),
        options: { retry: { maxAttempts: 3, initialIntervalMs: 10, jitter: 0 } },
      }),
    );
    let calls = 0;
    const worker = job.start(async () => {
      calls += 1;
      if (calls === 1) throw new TypeError("smtp refused");
      throw new FatalError("mailbox does not exist");
    });
    try {
      const id = await job.enqueue({ email: "secret@example.com" });
      await job.outcome(id);
      await eventually(() => log.lines.some((line) => line.level === "error"), 5_000, "the error line");
      const lines = log.lines.filter((line) => line.level !== "info");
      assert.deepEqual(
        lines.map((line) => [line.level, line.message, line.details]),
        [
          [
            "warn",
            "task attempt failed; it runs again",
            {
              queue: "logged_failures",
              taskId: id,
              attempt: "1 of 3",
              error: "TypeError: smtp refused",
              runAt: (lines[0]?.details ?? {})["runAt"],
            },
          ],
          [
            "error",
            "task failed for good; moved to dead-letter queue logged_failures_dlq",
            {
              queue: "logged_failures",
              taskId: id,
              attempt: "2 of 3",
              error: "FatalError: mailbox does not exist",
            },
          ],
        ],
      );
      assert.doesNotMatch(JSON.stringify(log.lines), /secret@example\.com/);
    } finally {
      await worker.stop();
    }
  });

  it("without a logger, a worker writes its failures to stderr, one line each; consoleLogger takes a level", async () => {
    const run = async (schema: string, level?: string) => {
      const child = spawnFixture("defaultLogger", { url: db().url, schema, level }, { stderr: "capture" });
      await child.waitFor((line) => line["done"] === true, 30_000, "the task failed for good");
      assert.equal(await child.exited, 0, child.stderr());
      return { stderr: child.stderr(), id: String(child.lines[0]?.["id"]) };
    };
    const [byDefault, errorsOnly] = await Promise.all([run("logs_default"), run("logs_error", "error")]);
    const lines = byDefault.stderr.split("\n").filter((line) => line.startsWith("[underway] task"));
    assert.equal(lines.length, 2, byDefault.stderr);
    assert.match(
      lines[0] ?? "",
      new RegExp(
        `^\\[underway\\] task attempt failed; it runs again \\{ queue: 'logged', taskId: '${byDefault.id}', attempt: '1 of 2', error: 'TypeError: smtp refused'`,
      ),
    );
    assert.match(
      lines[1] ?? "",
      /^\[underway\] task failed for good \{ queue: 'logged', .*attempt: '2 of 2'/,
    );
    assert.doesNotMatch(byDefault.stderr, /secret@example\.com/);
    const errorLines = errorsOnly.stderr.split("\n").filter((line) => line.startsWith("[underway] task"));
    assert.deepEqual(
      errorLines.map((line) => line.split(" {")[0]),
      ["[underway] task failed for good"],
      errorsOnly.stderr,
    );
  });

  it("fails a task whose stored input no longer fits the codec, without crashing the worker", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "badrow", dlq: "badrow_dlq", input: N }));
    const good = await job.enqueue({ n: 1 });
    const { rows } = await db().pool.query<{ id: string }>(
      `insert into underway.task (queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient,
         retry_jitter, timeout_ms, heartbeat_ms, ttl_ms) values ('badrow', '{"n": "one"}', 5, 1000, 60000, 2, 0.5, 60000, 30000, 1000000)
       returning id::text`,
    );
    const worker = job.start(async ({ n }) => n);
    const bad = await job.outcome(rows[0]!.id);
    assert.equal(bad._tag, "failed");
    assert.match(
      bad._tag === "failed" ? bad.error : "",
      /input failed its codec: n: expected number, got "one"/,
    );
    assert.equal(bad._tag === "failed" && bad.deadLetterQueue, "badrow_dlq");
    assert.equal(await job.result(good), 1);
    await worker.stop();
  });
});
