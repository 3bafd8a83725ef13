// The inspection and admin API (underway.ops): keyset lists and their
// filters, counts, one task in full, bulk actions with dry runs, throughput
// and schedules. Worker processes (registry, pause) are in opsProcesses.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import {
  ConfigError,
  FatalError,
  ValidationError,
  Steps,
  defineJob,
  defineStepJob,
  done,
  next,
  schedule,
  type TaskFilter,
  type TaskSummary,
  type Underway,
} from "../src/index.ts";
import { depsOf } from "../src/client/clientDeps.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { DateFromISOString } from "../examples/tasks/welcomeEmail.ts";

const Input = t.type({ n: t.number, tag: t.string });
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A listed task's fields, in the order the ops API (and the CLI's JSON) has always given them. */
const summaryFields = [
  "id",
  "queue",
  "state",
  "attempt",
  "maxAttempts",
  "priority",
  "concurrencyKey",
  "jobId",
  "stepIndex",
  "error",
  "runAt",
  "createdAt",
  "startedAt",
  "finishedAt",
  "dlqFrom",
];

/** Every page of a list, following `next`; each task holds the summary's fields and nothing else (no sort key). */
const allPages = async (
  underway: Underway,
  filter: TaskFilter,
  order: "newest" | "oldest",
  limit: number,
): Promise<TaskSummary[]> => {
  const tasks: TaskSummary[] = [];
  let after: string | undefined;
  for (let pages = 0; pages < 1_000; pages += 1) {
    const page = await underway.ops.tasks(filter, {
      limit,
      order,
      ...(after === undefined ? {} : { after }),
    });
    assert.ok(page.tasks.length <= limit);
    for (const task of page.tasks) assert.deepEqual(Object.keys(task), summaryFields, JSON.stringify(filter));
    tasks.push(...page.tasks);
    if (page.next === null) return tasks;
    after = page.next;
  }
  throw new Error("too many pages");
};

const ids = (tasks: ReadonlyArray<TaskSummary>) => tasks.map((task) => task.id);
const sortedDesc = (values: ReadonlyArray<string>) => [...values].sort((a, b) => Number(b) - Number(a));

describe("ops", () => {
  const { db, connect } = useDatabase("ops");

  const stateOf = async (id: string): Promise<string> => {
    const { rows } = await db().pool.query<{ state: string }>(
      "select state from underway.task_all where id = $1",
      [id],
    );
    return rows[0]?.state ?? "gone";
  };

  it("lists by keyset pages, newest or oldest first, through every filter", async () => {
    const underway = await connect();
    const a = underway.job(defineJob({ queue: "list_a", input: Input }));
    const b = underway.job(defineJob({ queue: "list_b", input: Input }));
    const before = new Date(Date.now() - 1_000);
    const aIds = await a.enqueueMany(
      Array.from({ length: 23 }, (_, n) => ({ n, tag: n % 2 === 0 ? "even" : "odd" })),
    );
    const bIds = await b.enqueueMany(Array.from({ length: 7 }, (_, n) => ({ n, tag: "b" })));
    const keyed = await a.enqueue({ n: 100, tag: "keyed" }, { concurrencyKey: "user:1" });
    // Some failed with errors, some succeeded.
    await db().pool.query(
      `update underway.task set state = 'failed', error = 'SMTP Timeout after 30s', finished_at = now()
        where id = any($1::bigint[])`,
      [aIds.slice(0, 5)],
    );
    await db().pool.query(
      "update underway.task set state = 'succeeded', finished_at = now() where id = any($1::bigint[])",
      [aIds.slice(5, 9)],
    );
    const jobId = "0b9d2f4e-8a51-4c1e-9a43-3f7a4f0c2d11";
    await db().pool.query("update underway.task set job_id = $2 where id = any($1::bigint[])", [
      bIds.slice(0, 3),
      jobId,
    ]);

    const everything = [...aIds, ...bIds, keyed];
    // Every task once, in id order, whatever the page size and order.
    for (const limit of [1, 4, 50]) {
      assert.deepEqual(ids(await allPages(underway, {}, "newest", limit)), sortedDesc(everything));
      assert.deepEqual(ids(await allPages(underway, {}, "oldest", limit)), sortedDesc(everything).reverse());
    }
    const first = await underway.ops.tasks({}, { limit: 3 });
    assert.equal(first.tasks.length, 3);
    assert.notEqual(first.next, null);
    assert.equal((await underway.ops.tasks({}, { limit: 1_000 })).next, null, "no next page after the last");

    const expect = async (filter: TaskFilter, expected: ReadonlyArray<string>) =>
      assert.deepEqual(
        ids(await allPages(underway, filter, "newest", 4)),
        sortedDesc(expected),
        JSON.stringify(filter),
      );
    await expect({ queue: "list_b" }, bIds);
    await expect({ queue: ["list_a", "list_b"], state: "failed" }, aIds.slice(0, 5));
    await expect({ state: ["failed", "succeeded"] }, aIds.slice(0, 9));
    await expect({ queue: "list_a", state: "pending" }, [...aIds.slice(9), keyed]);
    await expect({ ids: [aIds[0] ?? "", bIds[0] ?? "", "999999"] }, [aIds[0] ?? "", bIds[0] ?? ""]);
    await expect({ ids: [] }, []);
    await expect({ jobId }, bIds.slice(0, 3));
    await expect({ jobId, state: "pending", queue: "list_a" }, []);
    await expect({ concurrencyKey: "user:1" }, [keyed]);
    await expect({ errorLike: "smtp timeout" }, aIds.slice(0, 5));
    await expect({ errorLike: "50%_" }, []); // a substring, not a LIKE pattern
    await expect(
      { inputContains: { tag: "even" } },
      aIds.filter((_, n) => n % 2 === 0),
    );
    await expect({ queue: "list_a", inputContains: { n: 3 } }, [aIds[3] ?? ""]);
    await expect({ createdAfter: before }, everything);
    await expect({ createdBefore: before }, []);
    await expect({ queue: "nowhere" }, []);

    const summary = (await underway.ops.tasks({ ids: [aIds[0] ?? ""] })).tasks[0];
    assert.equal(summary?.queue, "list_a");
    assert.equal(summary?.state, "failed");
    assert.equal(summary?.error, "SMTP Timeout after 30s");
    assert.equal(summary?.maxAttempts, 5);
    assert.ok(summary?.createdAt instanceof Date && summary.finishedAt instanceof Date);
  });

  it("decodes one task's input and output by its definition, and refuses another queue's task or JSON the schemas refuse", async () => {
    const underway = await connect();
    const stamped = defineJob({
      queue: "typed_detail",
      input: t.type({ n: t.number }),
      output: t.type({ at: DateFromISOString }),
    });
    const worker = underway
      .job(stamped)
      .start(async ({ n }) => ({ at: new Date(Date.UTC(2026, 0, n)) }), { pollIntervalMs: 20 });
    try {
      const id = await underway.job(stamped).enqueue({ n: 2 });
      await underway.job(stamped).result(id);
      const typed = await underway.ops.task(id, stamped);
      assert.deepEqual(typed?.input, { n: 2 });
      assert.ok(typed?.output?.at instanceof Date, "the output decoded: a Date, not its string");
      assert.equal(typed.output.at.toISOString(), "2026-01-02T00:00:00.000Z");
      const raw = await underway.ops.task(id);
      assert.deepEqual(raw?.output, { at: "2026-01-02T00:00:00.000Z" }, "untyped: the stored JSON");
      const other = defineJob({ queue: "typed_other", input: t.type({ n: t.number }) });
      await assert.rejects(underway.ops.task(id, other), (error: unknown) => {
        return (
          error instanceof ValidationError && /not of queue typed_other.*typed_detail/.test(error.message)
        );
      });
      const changed = defineJob({ queue: "typed_detail", input: t.type({ n: t.string }) });
      await assert.rejects(underway.ops.task(id, changed), (error: unknown) => {
        return error instanceof ValidationError && error.message.startsWith(`stored input of task ${id}`);
      });
      assert.equal(await underway.ops.task("999999999", stamped), undefined);
    } finally {
      await worker.stop();
    }
  });

  it("refuses bad cursors, ids, filters and options before reading anything", async () => {
    const underway = await connect();
    const { ops } = underway;
    const page = await ops.tasks({}, { limit: 1 });
    const validation = async (call: () => Promise<unknown>, pattern: RegExp) =>
      assert.rejects(
        call,
        (error: unknown) => error instanceof ValidationError && pattern.test(error.message),
      );
    await validation(() => ops.tasks({}, { after: "garbage!" }), /cursor/);
    await validation(
      () => ops.tasks({}, { after: Buffer.from('{"v":1,"o":"newest","id":"-1"}').toString("base64url") }),
      /cursor/,
    );
    await validation(() => ops.tasks({}, { after: Buffer.from("not json").toString("base64url") }), /cursor/);
    if (page.next !== null)
      await validation(() => ops.tasks({}, { after: page.next ?? "", order: "oldest" }), /"newest" order/);
    await validation(() => ops.tasks({ queues: "x" } as TaskFilter), /queues: unknown filter field/);
    await validation(() => ops.tasks({ state: "done" as never }), /state/);
    await validation(() => ops.tasks({ state: [] }), /state/);
    await validation(() => ops.tasks({ ids: ["1", "x"] }), /ids/);
    await validation(() => ops.tasks({ jobId: "not-a-uuid" }), /jobId/);
    await validation(() => ops.tasks({ queue: "bad name" }), /queue/);
    await validation(() => ops.tasks({ errorLike: "" }), /errorLike/);
    await validation(() => ops.tasks({ inputContains: 5 }), /inputContains/);
    await validation(() => ops.tasks({ createdAfter: new Date("nope") }), /createdAfter/);
    await validation(() => ops.task("abc"), /task id/);
    await validation(() => ops.task("-1"), /task id/);
    await validation(() => ops.delete({ queues: ["a"] } as TaskFilter), /unknown filter field/);
    await validation(() => ops.retry({ state: "pending" }), /retry applies to failed and cancelled/);
    await validation(() => ops.cancel({ state: "succeeded" }), /cancel applies to pending and in_progress/);
    await validation(() => ops.redrive("dlq", { queue: "x" }), /dead-letter queue/);
    await assert.rejects(() => ops.tasks({}, { limit: 0 }), ConfigError);
    await assert.rejects(() => ops.tasks({}, { limit: 1_001 }), ConfigError);
    await assert.rejects(() => ops.delete({}, { batchSize: 0 }), ConfigError);
    await assert.rejects(() => ops.schedules({ nextRuns: -1 }), ConfigError);
    assert.equal(await ops.task("9223372036854775807"), undefined);
  });

  it("counts per queue and state, exact while small and estimated when large, and the oldest due task's age", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "counted", dlq: "counted_dlq", input: Input }));
    const enqueued = await job.enqueueMany(Array.from({ length: 12 }, (_, n) => ({ n, tag: "x" })));
    await db().pool.query(
      "update underway.task set state = 'failed', finished_at = now() where id = any($1::bigint[])",
      [enqueued.slice(0, 2)],
    );
    // Due a minute ago at a low priority, and one not due yet: the age is the due one's.
    await db().pool.query(
      "update underway.task set run_at = now() - interval '60 seconds', priority = -5 where id = $1",
      [enqueued[2]],
    );
    await db().pool.query(
      "update underway.task set run_at = now() + interval '1 hour', priority = 9 where id = $1",
      [enqueued[3]],
    );
    // A big queue: 5,000 succeeded rows, analyzed.
    await db().pool.query(
      `insert into underway.task_finished (id, queue_name, state, input, max_attempts, retry_initial_ms, retry_max_ms,
         retry_coefficient, retry_jitter, timeout_ms, heartbeat_ms, ttl_ms, finished_at)
       select nextval(pg_get_serial_sequence('underway.task', 'id')), 'big', 'succeeded', '{}', 5, 1000, 60000,
              2, 0.5, 60000, 30000, 86400000, now()
         from generate_series(1, 5000)`,
    );
    await db().pool.query("analyze underway.task; analyze underway.task_finished");
    const stats = await underway.ops.queues();
    const counted = stats.find((queue) => queue.queue === "counted");
    assert.ok(counted !== undefined);
    assert.equal(counted.dlq, "counted_dlq");
    assert.equal(counted.pausedAt, null);
    assert.deepEqual(counted.counts.pending, { count: 10, approximate: false });
    assert.deepEqual(counted.counts.failed, { count: 2, approximate: false });
    assert.deepEqual(counted.counts.succeeded, { count: 0, approximate: false });
    assert.ok(
      counted.oldestPendingAgeSeconds !== null &&
        counted.oldestPendingAgeSeconds >= 59 &&
        counted.oldestPendingAgeSeconds < 120,
      String(counted.oldestPendingAgeSeconds),
    );
    const dlq = stats.find((queue) => queue.queue === "counted_dlq");
    assert.equal(dlq?.oldestPendingAgeSeconds, null);
    const big = stats.find((queue) => queue.queue === "big");
    assert.equal(big?.counts.succeeded.approximate, true);
    assert.ok(
      Math.abs((big?.counts.succeeded.count ?? 0) - 5_000) < 500,
      String(big?.counts.succeeded.count),
    );
    assert.deepEqual(big?.counts.pending, { count: 0, approximate: false });
    await underway.ops.pause("counted");
    assert.ok(
      (await underway.ops.queues()).find((queue) => queue.queue === "counted")?.pausedAt instanceof Date,
    );
    await underway.ops.resume("counted");
  });

  it("shows one task in full: input, output, options, lease and history with error name, message and stack", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "detailed",
        input: Input,
        options: { retry: { maxAttempts: 3, initialIntervalMs: 10, maxIntervalMs: 20 }, priority: 2 },
      }),
    );
    const id = await job.enqueue({ n: 1, tag: "detail" }, { uniqueKey: "only-one" });
    const worker = job.start(
      async ({ n }, { attempt }) => {
        if (attempt === 1) throw new TypeError("first attempt breaks");
        if (attempt === 2) {
          const running = await underway.ops.task(id);
          assert.equal(running?.state, "in_progress");
          assert.ok(running?.lease !== null && running?.lease.expiresAt instanceof Date);
          assert.match(running?.lease?.workerId ?? "", /:/);
        }
        return { doubled: n * 2 };
      },
      { pollIntervalMs: 20 },
    );
    try {
      assert.deepEqual(await job.result(id), { doubled: 2 });
    } finally {
      await worker.stop();
    }
    const detail = await underway.ops.task(id);
    assert.ok(detail !== undefined);
    // The fields in the order the API (and the CLI's JSON) has always given them.
    assert.deepEqual(Object.keys(detail), [
      // A task's group (fair tenants) follows its concurrency key.
      ...summaryFields.flatMap((field) =>
        field === "dlqFrom" ? [] : field === "concurrencyKey" ? [field, "group"] : [field],
      ),
      "input",
      "output",
      "options",
      "lease",
      "dlqFrom",
      "cancelRequestedAt",
      "history",
      "batchId",
      "progress",
      "logLines",
    ]);
    assert.equal(detail.state, "succeeded");
    assert.deepEqual(detail.input, { n: 1, tag: "detail" });
    assert.deepEqual(detail.output, { doubled: 2 });
    assert.equal(detail.attempt, 2);
    assert.equal(detail.lease, null);
    assert.equal(detail.options.maxAttempts, 3);
    assert.equal(detail.options.retryInitialMs, 10);
    assert.equal(detail.options.priority, 2);
    assert.equal(detail.options.uniqueKey, "only-one");
    assert.equal(detail.options.ttlMs, 14 * 24 * 3_600_000);
    const [failed, succeeded] = detail.history;
    assert.ok(failed?._tag === "attempt" && succeeded?._tag === "attempt");
    assert.equal(failed.errorName, "TypeError");
    assert.equal(failed.error, "first attempt breaks");
    assert.match(failed.errorStack ?? "", /first attempt breaks/);
    assert.equal(succeeded.state, "succeeded");
  });

  it("retries failed tasks by filter: a dry run changes nothing, then they run again and succeed, recorded in history", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({ queue: "retried", input: Input, options: { retry: { maxAttempts: 1 } } }),
    );
    let failing = true;
    const worker = job.start(
      async ({ n }) => {
        if (failing) throw new FatalError(`provider down for ${n}`);
        return { n };
      },
      { pollIntervalMs: 20, concurrency: 4 },
    );
    try {
      const enqueued = await job.enqueueMany(Array.from({ length: 5 }, (_, n) => ({ n, tag: "r" })));
      const keep = await job.enqueue({ n: 99, tag: "keep" });
      await eventually(async () =>
        (await Promise.all([...enqueued, keep].map(stateOf))).every((s) => s === "failed"),
      );
      const filter: TaskFilter = {
        queue: "retried",
        errorLike: "PROVIDER DOWN",
        inputContains: { tag: "r" },
      };
      const dry = await underway.ops.retry(filter, { dryRun: true });
      assert.deepEqual(dry, { matched: 5, changed: 0, dryRun: true });
      assert.equal(await stateOf(enqueued[0] ?? ""), "failed", "a dry run changes nothing");
      failing = false;
      const done = await underway.ops.retry(filter, { batchSize: 2 });
      assert.deepEqual(done, { matched: 5, changed: 5, dryRun: false });
      await eventually(async () =>
        (await Promise.all(enqueued.map(stateOf))).every((s) => s === "succeeded"),
      );
      assert.equal(await stateOf(keep), "failed", "tasks outside the filter stay");
      const detail = await underway.ops.task(enqueued[0] ?? "");
      assert.equal(detail?.attempt, 2);
      assert.equal(detail?.maxAttempts, 2, "a fresh budget of the policy's one attempt");
      // Error searches skip succeeded tasks (taskPage.ts), which holds because a success clears the error.
      assert.equal(detail?.error, null, "a success clears the task's error");
      assert.deepEqual(
        (await underway.ops.tasks({ queue: "retried", errorLike: "provider down" })).tasks.map(
          (task) => task.id,
        ),
        [keep],
      );
      assert.deepEqual(
        detail?.history.map((entry) =>
          entry._tag === "attempt" ? `${entry.attempt} ${entry.state}` : entry.kind,
        ),
        ["1 failed", "retried", "2 succeeded"],
      );
      assert.deepEqual(await underway.ops.retry(filter), { matched: 0, changed: 0, dryRun: false });
      // The limit bounds what changes.
      assert.deepEqual(await underway.ops.retry({ queue: "retried" }, { limit: 1, dryRun: true }), {
        matched: 1,
        changed: 0,
        dryRun: true,
      });
    } finally {
      await worker.stop();
    }
  });

  it("keeps unique keys consistent: a retry skips a task whose key a live task holds", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "unique_retry", input: Input }));
    const old = await job.enqueue({ n: 1, tag: "u" }, { uniqueKey: "k" });
    await db().pool.query("update underway.task set state = 'failed', finished_at = now() where id = $1", [
      old,
    ]);
    const live = await job.enqueue({ n: 2, tag: "u" }, { uniqueKey: "k" });
    assert.notEqual(live, old);
    assert.deepEqual(await underway.ops.retry({ queue: "unique_retry" }), {
      matched: 1,
      changed: 0,
      dryRun: false,
    });
    assert.equal(await stateOf(old), "failed");
    await db().pool.query("update underway.task set state = 'succeeded', finished_at = now() where id = $1", [
      live,
    ]);
    // Two failed tasks of one key: only one goes live.
    const twin = await job.enqueue({ n: 3, tag: "u" }, { uniqueKey: "k" });
    await db().pool.query("update underway.task set state = 'cancelled', finished_at = now() where id = $1", [
      twin,
    ]);
    assert.deepEqual(await underway.ops.retry({ queue: "unique_retry" }), {
      matched: 2,
      changed: 1,
      dryRun: false,
    });
    assert.equal(await stateOf(old), "pending");
    assert.equal(await stateOf(twin), "cancelled");
    assert.equal(
      await job.enqueue({ n: 4, tag: "u" }, { uniqueKey: "k" }),
      old,
      "the retried task holds the key",
    );
  });

  it("cancels by filter: pending at once, a running handler is aborted, and its key's slot is freed", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "cancelled", input: Input }));
    const aborted: string[] = [];
    const worker = job.start(
      async ({ n }, { signal }) => {
        if (n !== 0) return { n };
        await new Promise<void>((resolve) =>
          signal.addEventListener("abort", () => resolve(), { once: true }),
        );
        aborted.push(String((signal.reason as Error).message));
        throw signal.reason;
      },
      { pollIntervalMs: 20 },
    );
    try {
      const running = await job.enqueue({ n: 0, tag: "c" }, { concurrencyKey: "account" });
      await eventually(async () => (await stateOf(running)) === "in_progress");
      // Same key, limit 1: it waits for the running one.
      const waiting = await job.enqueue({ n: 1, tag: "c" }, { concurrencyKey: "account" });
      const later = await job.enqueue({ n: 2, tag: "other" }, { delayMs: 3_600_000 });
      assert.deepEqual(
        await underway.ops.cancel({ queue: "cancelled", inputContains: { n: 0 } }, { dryRun: true }),
        {
          matched: 1,
          changed: 0,
          dryRun: true,
        },
      );
      assert.deepEqual(await underway.ops.cancel({ queue: "cancelled", ids: [running, later] }), {
        matched: 2,
        changed: 2,
        dryRun: false,
      });
      assert.equal(await stateOf(later), "cancelled");
      await eventually(
        async () => (await stateOf(running)) === "cancelled",
        10_000,
        "the running task cancelled",
      );
      assert.equal(aborted.length, 1);
      assert.match(aborted[0] ?? "", /cancel/);
      // The slot is free again: the waiting task of the key runs.
      await eventually(
        async () => (await stateOf(waiting)) === "succeeded",
        10_000,
        "the next task of the key",
      );
      const history = (await underway.ops.task(running))?.history ?? [];
      assert.ok(history.some((entry) => entry._tag === "attempt" && entry.state === "cancelled"));
      // A cancelled task is not matched again.
      assert.deepEqual(await underway.ops.cancel({ queue: "cancelled" }), {
        matched: 0,
        changed: 0,
        dryRun: false,
      });
    } finally {
      await worker.stop();
    }
  });

  it("deletes finished tasks only, unless the filter names pending or in_progress", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "deleted", input: Input }));
    const enqueued = await job.enqueueMany(Array.from({ length: 8 }, (_, n) => ({ n, tag: "d" })));
    const set = (state: string, some: ReadonlyArray<string>) =>
      db().pool.query(
        `update underway.task set state = $2::underway.task_state,
                finished_at = case when $2 in ('succeeded', 'failed', 'cancelled') then now() end
          where id = any($1::bigint[])`,
        [some, state],
      );
    await set("succeeded", enqueued.slice(0, 2));
    await set("failed", enqueued.slice(2, 3));
    await set("cancelled", enqueued.slice(3, 4));
    await set("in_progress", enqueued.slice(4, 5));
    await db().pool.query(
      "insert into underway.task_attempt (task_id, attempt, state, error) values ($1, 1, 'failed', 'x')",
      [enqueued[2]],
    );
    assert.deepEqual(await underway.ops.delete({ queue: "deleted" }, { dryRun: true }), {
      matched: 4,
      changed: 0,
      dryRun: true,
    });
    assert.deepEqual(await underway.ops.delete({ queue: "deleted" }, { batchSize: 3 }), {
      matched: 4,
      changed: 4,
      dryRun: false,
    });
    const states = await Promise.all(enqueued.map(stateOf));
    assert.deepEqual(states, [
      "gone",
      "gone",
      "gone",
      "gone",
      "in_progress",
      "pending",
      "pending",
      "pending",
    ]);
    const { rows } = await db().pool.query("select 1 from underway.task_attempt where task_id = $1", [
      enqueued[2],
    ]);
    assert.equal(rows.length, 0, "the history goes with the task");
    // Named: pending ones may go, and only as many as the limit says.
    assert.deepEqual(await underway.ops.delete({ queue: "deleted", state: "pending" }, { limit: 2 }), {
      matched: 2,
      changed: 2,
      dryRun: false,
    });
    assert.equal((await Promise.all(enqueued.map(stateOf))).filter((s) => s === "pending").length, 1);
    assert.equal(await stateOf(enqueued[4] ?? ""), "in_progress");
  });

  it("redrives a dead-letter queue by filter, back to where each task came from", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({ queue: "origin", dlq: "origin_dlq", input: Input, options: { retry: { maxAttempts: 1 } } }),
    );
    let failing = true;
    const worker = job.start(
      async ({ tag }) => {
        if (failing) throw new Error(`${tag} refused`);
        return { ok: true };
      },
      { pollIntervalMs: 20 },
    );
    try {
      const a = await job.enqueue({ n: 1, tag: "alpha" });
      const b = await job.enqueue({ n: 2, tag: "beta" });
      await eventually(async () => (await underway.ops.tasks({ queue: "origin_dlq" })).tasks.length === 2);
      failing = false;
      assert.deepEqual(await underway.ops.redrive("origin_dlq", { errorLike: "alpha" }, { dryRun: true }), {
        matched: 1,
        changed: 0,
        dryRun: true,
      });
      assert.deepEqual(await underway.ops.redrive("origin_dlq", { errorLike: "alpha" }), {
        matched: 1,
        changed: 1,
        dryRun: false,
      });
      await eventually(async () => (await stateOf(a)) === "succeeded");
      assert.equal((await underway.ops.task(b))?.queue, "origin_dlq");
      const event = (await underway.ops.task(a))?.history.find((entry) => entry._tag === "event");
      assert.ok(event?._tag === "event");
      assert.equal(event.kind, "redriven");
      assert.equal(event.details["from"], "origin_dlq");
      assert.equal(event.details["to"], "origin");
    } finally {
      await worker.stop();
    }
  });

  it("counts throughput per queue and minute from every client's flushed counters", async () => {
    const underway = await connect();
    const other = await connect();
    const job = underway.job(
      defineJob({
        queue: "through",
        input: Input,
        options: { retry: { maxAttempts: 2, initialIntervalMs: 10, maxIntervalMs: 10 } },
      }),
    );
    const since = new Date(Date.now() - 120_000);
    const worker = job.start(
      async ({ n }, { attempt }) => {
        if (n === 1) throw new FatalError("never");
        if (n === 2 && attempt === 1) throw new Error("once");
        return { n };
      },
      { pollIntervalMs: 20 },
    );
    try {
      const enqueued = await job.enqueueMany([0, 1, 2].map((n) => ({ n, tag: "t" })));
      await other.job(defineJob({ queue: "through", input: Input })).enqueue({ n: 0, tag: "other" });
      await eventually(async () => {
        const states = await Promise.all(enqueued.map(stateOf));
        return states.every((state) => state === "succeeded" || state === "failed");
      });
      await eventually(async () => (await stateOf(enqueued[2] ?? "")) === "succeeded");
      await sleep(100);
    } finally {
      await worker.stop();
    }
    await Promise.all([depsOf(underway).throughput.flush(), depsOf(other).throughput.flush()]);
    const buckets = await underway.ops.throughput({ queue: "through", since });
    const sum = (key: "enqueued" | "succeeded" | "failed" | "retried") =>
      buckets.reduce((total, bucket) => total + bucket[key], 0);
    assert.equal(sum("enqueued"), 4);
    assert.equal(sum("failed"), 1);
    assert.equal(sum("retried"), 1);
    assert.ok(sum("succeeded") >= 2, String(sum("succeeded")));
    assert.ok(buckets.every((bucket) => bucket.queue === "through" && bucket.at.getUTCSeconds() === 0));
    assert.deepEqual(
      await underway.ops.throughput({ queue: "through", since: new Date(Date.now() + 120_000) }),
      [],
    );
  });

  it("counts tasks run by drain() and every step of a job, not only a worker's plain tasks", async () => {
    const underway = await connect();
    const since = new Date(Date.now() - 120_000);
    const plain = underway.job(defineJob({ queue: "through_drain", input: Input }));
    await plain.enqueueMany([0, 1, 2].map((n) => ({ n, tag: "d" })));
    const drained = await plain.drain(async ({ n }) => ({ n }));
    assert.equal(drained.succeeded, 3);
    const twoSteps = defineStepJob({ queue: "through_steps", input: t.type({ n: t.number }) });
    const steps = Steps.of(twoSteps)
      .step(async ({ n }) => next({ n: n + 1 }))
      .step(async ({ n }) => done(n));
    const stepJob = underway.job(twoSteps);
    const worker = stepJob.start(steps, { pollIntervalMs: 20 });
    try {
      assert.equal(await stepJob.result(await stepJob.enqueue({ n: 1 })), 2);
    } finally {
      await worker.stop();
    }
    await depsOf(underway).throughput.flush();
    const succeeded = async (queue: string) =>
      (await underway.ops.throughput({ queue, since })).reduce(
        (total, bucket) => total + bucket.succeeded,
        0,
      );
    assert.equal(await succeeded("through_drain"), 3);
    // Each step is a task of its own.
    assert.equal(await succeeded("through_steps"), 2);
  });

  it("lists schedules with their next run times in their zone", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "nightly", input: Input }));
    await schedule(job, "0 30 2 * * *[America/New_York]", { n: 1, tag: "s" });
    const [info] = await underway.ops.schedules({ nextRuns: 3 });
    assert.equal(info?.queue, "nightly");
    assert.equal(info?.expression, "0 30 2 * * *");
    assert.equal(info?.timeZone, "America/New_York");
    assert.deepEqual(info?.input, { n: 1, tag: "s" });
    assert.equal(info?.nextRuns.length, 3);
    for (const run of info?.nextRuns ?? []) {
      const wall = new Intl.DateTimeFormat("en-US", {
        timeZone: "America/New_York",
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
      }).format(run);
      assert.equal(wall, "02:30");
      assert.ok(run.getTime() > Date.now());
    }
    const [first, second] = info?.nextRuns ?? [];
    assert.ok(
      first !== undefined && second !== undefined && second.getTime() - first.getTime() >= 23 * 3_600_000,
    );
    assert.equal((await underway.ops.schedules({ nextRuns: 0 }))[0]?.nextRuns.length, 0);
  });
});
