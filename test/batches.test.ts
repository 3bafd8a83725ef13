// Batches with callbacks (issue 22, part 2): a batch's callback task is
// enqueued exactly once, in the transaction that ends its last member,
// whichever way the members end (a worker's completion, a fatal failure,
// dead-lettering, a cancel or delete by ops, the reaper, a start deadline)
// and however many processes end them at once; ops.batch(id) counts them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import pg from "pg";
import {
  BatchCompletion,
  batchCompletion,
  ConfigError,
  defineJob,
  FatalError,
  sweepExpired,
  ValidationError,
  type Underway,
} from "../src/index.ts";
import { dashboard } from "../src/index.ts";
import { runCli } from "./support/cli.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { spawnFixture, stopFixtures } from "./support/processes.ts";

const N = t.type({ n: t.number });
const report = defineJob({ queue: "batch_report", input: BatchCompletion });

interface CallbackRow {
  readonly id: string;
  readonly input: BatchCompletion;
}

const callbacks = async (pool: pg.Pool, queue = report.queue): Promise<CallbackRow[]> =>
  (
    await pool.query<CallbackRow>(
      "select id::text, input from underway.task_all where queue_name = $1 order by id",
      [queue],
    )
  ).rows;

const inputs = (count: number, from = 0) =>
  Array.from({ length: count }, (_, index) => ({ n: from + index }));

/** Ends running members by hand, as a worker's completion would: in_progress, then succeeded. */
const startAll = (pool: pg.Pool, ids: ReadonlyArray<string>) =>
  pool.query(
    `update underway.task set state = 'in_progress', attempt = 1, started_at = now(), worker_id = 'test',
            lease_expires_at = now() + interval '1 hour'
      where id = any($1::bigint[])`,
    [ids],
  );

describe("batches", () => {
  const { db, connect } = useDatabase("batches");
  let underwayClient: Underway | undefined;
  const client = async () => (underwayClient ??= await connect());

  it("a batch of 10,000 drained by three worker processes and this one enqueues its callback once, with the counts", async () => {
    const underway = await client();
    const pool = db().pool;
    const members = underway.job(defineJob({ queue: "batch_big", input: N }));
    const { batchId, ids } = await members.enqueueBatch(inputs(10_000), {
      onComplete: report,
      context: { campaign: "spring" },
    });
    assert.equal(ids.length, 10_000);
    assert.deepEqual(
      { ...(await underway.ops.batch(batchId)), createdAt: null },
      {
        id: batchId,
        queue: "batch_big",
        total: 10_000,
        succeeded: 0,
        failed: 0,
        cancelled: 0,
        remaining: 10_000,
        failedIds: [],
        context: { campaign: "spring" },
        callbackQueue: "batch_report",
        callbackTaskId: null,
        createdAt: null,
        completedAt: null,
        expiresAt: null,
      },
    );
    const workers = Array.from({ length: 3 }, () =>
      spawnFixture("batchWorker", { url: db().url, queue: "batch_big", failEvery: 500, concurrency: 10 }),
    );
    try {
      await Promise.all(workers.map((worker) => worker.waitFor((line) => line["ready"] === true)));
      const here = members.start(
        async ({ n }) => {
          if (n % 500 === 0) throw new FatalError(`member ${n} fails`);
          return null;
        },
        { concurrency: 10, pollIntervalMs: 100 },
      );
      await eventually(
        async () => (await underway.ops.batch(batchId))?.completedAt != null,
        120_000,
        "the batch's end",
      );
      await here.stop();
    } finally {
      await stopFixtures(workers);
    }
    const batch = await underway.ops.batch(batchId);
    const expectedFailed = ids.filter((_, n) => n % 500 === 0);
    assert.equal(batch?.succeeded, 10_000 - 20);
    assert.equal(batch?.failed, 20);
    assert.equal(batch?.cancelled, 0);
    assert.equal(batch?.remaining, 0);
    assert.deepEqual([...(batch?.failedIds ?? [])].sort(), [...expectedFailed].sort());
    const rows = await callbacks(pool);
    assert.equal(rows.length, 1, "one callback task");
    assert.equal(rows[0]?.id, batch?.callbackTaskId);
    const input = rows[0]?.input;
    assert.deepEqual(
      { ...input, failedIds: [...(input?.failedIds ?? [])].sort() },
      {
        batchId,
        queue: "batch_big",
        total: 10_000,
        succeeded: 9_980,
        failed: 20,
        cancelled: 0,
        failedIds: [...expectedFailed].sort(),
        context: { campaign: "spring" },
      },
    );
    // The callback runs as any task, its input decoded by BatchCompletion.
    let seen: BatchCompletion | undefined;
    await underway.job(report).drain(async (completion) => {
      seen = completion;
      return null;
    });
    assert.equal(seen?.batchId, batchId);
  });

  it("counts every way a member ends: success, fatal failure, dead-lettering, ops cancel and delete, the reaper, a start deadline", async () => {
    const underway = await client();
    const pool = db().pool;
    const queue = "batch_mixed";
    const mixedReport = defineJob({ queue: "batch_mixed_report", input: BatchCompletion });
    const definition = defineJob({
      queue,
      dlq: "batch_mixed_dlq",
      input: N,
      options: { retry: { maxAttempts: 1 } },
    });
    const members = underway.job(definition);
    const { batchId, ids } = await members.enqueueBatch(inputs(8), { onComplete: mixedReport });
    const [ok, fatal, dead, cancelled, deleted, reaped, late, cancelledRunning] = ids as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    // Ops: a pending member cancelled, another deleted.
    assert.equal((await underway.ops.cancel({ ids: [cancelled] })).changed, 1);
    assert.equal((await underway.ops.delete({ ids: [deleted], state: "pending" })).changed, 1);
    // A start deadline already past (written by hand), then the reaper's sweep.
    await pool.query("update underway.task set start_by = now() - interval '1 second' where id = $1", [late]);
    // A lost lease on the last attempt: the reaper fails it for good (and dead-letters it).
    await pool.query(
      `update underway.task set state = 'in_progress', attempt = 1, started_at = now(), worker_id = 'gone',
              lease_expires_at = now() - interval '1 second' where id = $1`,
      [reaped],
    );
    // A running member whose cancel is requested: it ends cancelled when it returns.
    await pool.query(
      `update underway.task set state = 'in_progress', attempt = 1, started_at = now(), worker_id = 'w',
              lease_expires_at = now() + interval '1 hour', cancel_requested_at = now() where id = $1`,
      [cancelledRunning],
    );
    assert.equal((await underway.ops.batch(batchId))?.remaining, 6);
    await members.drain(async ({ n }) => {
      if (n === 1) throw new FatalError("fatal");
      if (n === 2) throw new Error("retryable, but the last attempt: dead-lettered");
      return null;
    });
    assert.equal((await underway.ops.batch(batchId))?.remaining, 1);
    assert.deepEqual(await callbacks(pool, mixedReport.queue), []);
    // The cancelled running member's worker writes its success: the cancel wins.
    await pool.query(
      `with t as (delete from underway.task where id = $1 returning *)
       insert into underway.task_finished select f.* from t cross join lateral underway.task_succeeded(t, null, now()) f`,
      [cancelledRunning],
    );
    const batch = await underway.ops.batch(batchId);
    assert.deepEqual(
      {
        succeeded: batch?.succeeded,
        failed: batch?.failed,
        cancelled: batch?.cancelled,
        remaining: batch?.remaining,
      },
      { succeeded: 1, failed: 3, cancelled: 4, remaining: 0 },
    );
    assert.deepEqual([...(batch?.failedIds ?? [])].sort(), [fatal, dead, reaped].sort());
    const rows = await callbacks(pool, mixedReport.queue);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.input.failed, 3);
    assert.equal(rows[0]?.input.cancelled, 4);
    assert.equal(rows[0]?.input.succeeded, 1);
    assert.equal(rows[0]?.input.context, null);
    const states = await pool.query<{ id: string; state: string; queue_name: string }>(
      "select id::text, state, queue_name from underway.task_all where id = any($1::bigint[]) order by id",
      [[ok, dead, reaped]],
    );
    assert.deepEqual(
      states.rows.map((row) => [row.state, row.queue_name]),
      [
        ["succeeded", queue],
        ["failed", "batch_mixed_dlq"],
        ["failed", "batch_mixed_dlq"],
      ],
    );
    // A redrive sends a dead-lettered member back outside its batch: it is not counted again.
    await underway.ops.retry({ ids: [dead] });
    await members.drain(async () => null);
    assert.deepEqual(await underway.ops.batch(batchId), batch);
    assert.equal((await callbacks(pool, mixedReport.queue)).length, 1);
  });

  it("an empty batch is complete at once, its callback enqueued in the caller's transaction (or not at all on rollback)", async () => {
    const underway = await client();
    const pool = db().pool;
    const members = underway.job(defineJob({ queue: "batch_empty", input: N }));
    const emptyReport = defineJob({ queue: "batch_empty_report", input: BatchCompletion });
    const tx = await pool.connect();
    try {
      await tx.query("begin");
      const rolledBack = await members.enqueueBatch([], { onComplete: emptyReport, client: tx });
      await tx.query("rollback");
      assert.equal(await underway.ops.batch(rolledBack.batchId), undefined);
      assert.deepEqual(await callbacks(pool, emptyReport.queue), []);
      await tx.query("begin");
      const committed = await members.enqueueBatch([], {
        onComplete: emptyReport,
        client: tx,
        context: [1, "two"],
      });
      assert.deepEqual(await callbacks(pool, emptyReport.queue), [], "not visible before the commit");
      await tx.query("commit");
      const batch = await underway.ops.batch(committed.batchId);
      assert.equal(batch?.total, 0);
      assert.notEqual(batch?.completedAt, null);
      const rows = await callbacks(pool, emptyReport.queue);
      assert.equal(rows.length, 1);
      assert.deepEqual(rows[0]?.input, {
        batchId: committed.batchId,
        queue: "batch_empty",
        total: 0,
        succeeded: 0,
        failed: 0,
        cancelled: 0,
        failedIds: [],
        context: [1, "two"],
      });
      assert.equal(rows[0]?.id, batch?.callbackTaskId);
    } finally {
      tx.release();
    }
  });

  it("members ending in parallel transactions on 16 connections, two batches per statement in both orders: one callback each, no deadlock", async () => {
    const underway = await client();
    const pool = db().pool;
    const members = underway.job(defineJob({ queue: "batch_race", input: N }));
    const raceReport = defineJob({ queue: "batch_race_report", input: BatchCompletion });
    for (let round = 0; round < 3; round += 1) {
      const a = await members.enqueueBatch(inputs(320), { onComplete: raceReport });
      const b = await members.enqueueBatch(inputs(320), { onComplete: raceReport });
      await startAll(pool, [...a.ids, ...b.ids]);
      // Each connection ends 20 of a and 20 of b in one statement, half of
      // them a's first, half b's first; all 16 at once.
      const connections = await Promise.all(
        Array.from({ length: 16 }, () => new pg.Client({ connectionString: db().url })),
      );
      await Promise.all(connections.map((connection) => connection.connect()));
      try {
        await Promise.all(
          connections.map(async (connection, index) => {
            const mine = [
              ...a.ids.slice(index * 20, index * 20 + 20),
              ...b.ids.slice(index * 20, index * 20 + 20),
            ];
            if (index % 2 === 1) mine.reverse();
            await connection.query("begin");
            // Half succeed, half fail: both go through the statement trigger.
            await connection.query(
              `update underway.task set state = case when id % 2 = 0 then 'succeeded' else 'failed' end::underway.task_state,
                      finished_at = now()
                where id = any($1::bigint[])`,
              [mine],
            );
            await connection.query("commit");
          }),
        );
      } finally {
        await Promise.all(connections.map((connection) => connection.end()));
      }
      for (const batch of [a, b]) {
        const info = await underway.ops.batch(batch.batchId);
        const odd = batch.ids.filter((id) => BigInt(id) % 2n === 1n).length;
        assert.equal(info?.remaining, 0);
        assert.equal(info?.failed, odd);
        assert.equal(info?.succeeded, 320 - odd);
        assert.notEqual(info?.callbackTaskId, null);
      }
    }
    const rows = await callbacks(pool, raceReport.queue);
    assert.equal(rows.length, 6, "one callback per batch");
    assert.equal(new Set(rows.map((row) => row.input.batchId)).size, 6);
  });

  it("the callback is enqueued while its queue is paused, and runs once resumed", async () => {
    const underway = await client();
    const pool = db().pool;
    const members = underway.job(defineJob({ queue: "batch_paused", input: N }));
    const pausedReport = defineJob({ queue: "batch_paused_report", input: BatchCompletion });
    await underway.declare(pausedReport);
    await underway.pauseQueue(pausedReport.queue);
    const { batchId } = await members.enqueueBatch(inputs(3), { onComplete: pausedReport });
    await members.drain(async () => null);
    const rows = await callbacks(pool, pausedReport.queue);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.input.batchId, batchId);
    const job = underway.job(pausedReport);
    assert.equal((await job.drain(async () => null)).succeeded, 0, "paused: not run");
    await underway.resumeQueue(pausedReport.queue);
    assert.equal((await job.drain(async () => null)).succeeded, 1);
  });

  it("a callback's context typed by batchCompletion(codec), and its options taken from its definition", async () => {
    const underway = await client();
    const pool = db().pool;
    const typed = defineJob({
      queue: "batch_typed_report",
      input: batchCompletion(t.type({ campaignId: t.string })),
      options: { priority: 7, retry: { maxAttempts: 2 } },
    });
    const members = underway.job(defineJob({ queue: "batch_typed", input: N }));
    await members.enqueueBatch(inputs(2), { onComplete: typed, context: { campaignId: "c1" } });
    await members.drain(async () => null);
    const { rows } = await pool.query<{ priority: number; max_attempts: number }>(
      "select priority, max_attempts from underway.task where queue_name = $1",
      [typed.queue],
    );
    assert.deepEqual(rows, [{ priority: 7, max_attempts: 2 }]);
    let campaign: string | undefined;
    await underway.job(typed).drain(async ({ context }) => {
      campaign = context.campaignId;
      return null;
    });
    assert.equal(campaign, "c1");
    // A context the callback's codec refuses is refused before anything is written.
    await assert.rejects(
      members.enqueueBatch(inputs(2), { onComplete: typed, context: { campaign: 1 } }),
      ConfigError,
    );
  });

  it("refuses bad batches before writing anything: bad inputs, a callback that cannot take a completion, keyed members, option typos", async () => {
    const underway = await client();
    const pool = db().pool;
    const count = async () => Number((await pool.query("select count(*) from underway.batch")).rows[0].count);
    const before = await count();
    const members = underway.job(defineJob({ queue: "batch_bad", input: N }));
    await assert.rejects(
      members.enqueueBatch([{ n: 1 }, { n: "two" } as unknown as { n: number }], { onComplete: report }),
      (error: unknown) => error instanceof ValidationError && /item 1/.test(error.message),
    );
    await assert.rejects(
      members.enqueueBatch(inputs(1), { onComplete: defineJob({ queue: "batch_bad_cb", input: N }) }),
      (error: unknown) =>
        error instanceof ConfigError && /does not accept a batch's completion/.test(error.message),
    );
    await assert.rejects(
      members.enqueueBatch(inputs(1), { uniqueKey: "k" }),
      (error: unknown) => error instanceof ConfigError && /uniqueKey/.test(error.message),
    );
    await assert.rejects(
      members.enqueueBatch(inputs(1), { onComplet: report } as never),
      (error: unknown) => error instanceof ConfigError && /onComplete/.test(error.message),
    );
    await assert.rejects(members.enqueueBatch(inputs(1), { context: { bad: Number.NaN } }), ValidationError);
    assert.equal(await count(), before);
    assert.equal(
      Number(
        (await pool.query("select count(*) from underway.task_all where queue_name = 'batch_bad'")).rows[0]
          .count,
      ),
      0,
    );
  });

  it("the dashboard's batch page and `underway batches show` show a batch's progress, its failed members and its callback", async () => {
    const underway = await client();
    const members = underway.job(defineJob({ queue: "batch_shown", input: N }));
    const shownReport = defineJob({ queue: "batch_shown_report", input: BatchCompletion });
    const { batchId, ids } = await members.enqueueBatch(inputs(3), {
      onComplete: shownReport,
      context: { who: "<b>" },
    });
    const handler = dashboard(underway, { authorize: () => "read-only" });
    const get = async (path: string) => {
      const response = await handler(
        new Request(`http://127.0.0.1${path}`, { headers: { host: "127.0.0.1" } }),
      );
      return { status: response.status, body: await response.text() };
    };
    const running = await get(`/batches/${batchId}`);
    assert.equal(running.status, 200);
    assert.match(running.body, /0 of 3 \(0%\)/);
    assert.match(running.body, /enqueued at the batch's end/);
    assert.doesNotMatch(running.body, /<b>/, "the context is escaped");
    assert.match((await get(`/tasks/${ids[0]}`)).body, new RegExp(`href="/batches/${batchId}"`));
    await members.drain(async ({ n }) => {
      if (n === 1) throw new FatalError("no");
      return null;
    });
    const done = await get(`/batches/${batchId}`);
    const info = await underway.ops.batch(batchId);
    assert.match(done.body, /3 of 3 \(100%\)/);
    assert.match(done.body, new RegExp(`href="/tasks/${ids[1]}"`));
    assert.match(done.body, new RegExp(`href="/tasks/${info?.callbackTaskId}"`));
    assert.equal((await get("/batches/987654321")).status, 404);
    const shown = await runCli(["batches", "show", batchId], { DATABASE_URL: db().url });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /progress: +3 of 3 ended, 0 remaining/);
    assert.match(shown.stdout, new RegExp(`failed ids:\\n  ${ids[1]}`));
    const missing = await runCli(["batches", "show", "987654321"], { DATABASE_URL: db().url });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no batch 987654321/);
  });

  it("lists a batch's members in any state (ops.tasks, the bulk actions, `tasks list --batch`, the dashboard), never another's, its callback or a task of no batch", async () => {
    const underway = await client();
    const members = underway.job(defineJob({ queue: "batch_listed", input: N }));
    const listedReport = defineJob({ queue: "batch_listed_report", input: BatchCompletion });
    const a = await members.enqueueBatch(inputs(5), { onComplete: listedReport });
    const b = await members.enqueueBatch(inputs(3), { onComplete: listedReport });
    const loose = await members.enqueueMany([{ n: 100 }, { n: 101 }]);
    const listed = async (filter: Parameters<typeof underway.ops.tasks>[0]) =>
      (await underway.ops.tasks(filter, { order: "oldest" })).tasks.map((task) => `${task.id} ${task.state}`);
    const inState = (ids: ReadonlyArray<string>, state: string) => ids.map((id) => `${id} ${state}`);
    assert.deepEqual(await listed({ batchId: a.batchId }), inState(a.ids, "pending"));

    // A bulk action by batch reaches its members only; their ends are counted.
    const cancelled = await underway.ops.cancel({ batchId: b.batchId, state: "pending" });
    assert.equal(cancelled.changed, 3);
    assert.deepEqual(await listed({ batchId: b.batchId }), inState(b.ids, "cancelled"));
    assert.deepEqual(await listed({ batchId: a.batchId }), inState(a.ids, "pending"));
    assert.deepEqual(await listed({ ids: loose }), inState(loose, "pending"));
    assert.equal((await underway.ops.batch(b.batchId))?.cancelled, 3);

    // Ended members are listed from task_finished; the callback is no member.
    await members.drain(async ({ n }) => {
      if (n === 1) throw new FatalError("no");
      return null;
    });
    const info = await underway.ops.batch(a.batchId);
    assert.ok(info?.callbackTaskId !== null && info?.callbackTaskId !== undefined, "a's callback enqueued");
    assert.deepEqual(
      await listed({ batchId: a.batchId, state: "failed" }),
      inState([a.ids[1] ?? ""], "failed"),
    );
    const all = await listed({ batchId: a.batchId });
    assert.equal(all.length, 5);
    assert.deepEqual(
      all.map((row) => row.split(" ")[0]),
      a.ids,
      "every member, in id order, and no callback",
    );
    assert.deepEqual(await listed({ batchId: "987654321" }), []);

    // A member retried by ops leaves its batch (its first end was counted).
    const retried = await underway.ops.retry({ batchId: a.batchId, state: "failed" });
    assert.equal(retried.changed, 1);
    assert.deepEqual(await listed({ ids: [a.ids[1] ?? ""] }), inState([a.ids[1] ?? ""], "pending"));
    const stillIn = a.ids.filter((_, index) => index !== 1);
    assert.deepEqual(
      (await listed({ batchId: a.batchId })).map((row) => row.split(" ")[0]),
      stillIn,
    );

    // Bad ids and typos are refused, naming the field, before anything is read.
    for (const bad of ["", "0", "-1", "1.5", "abc", "99999999999999999999", 42, null])
      await assert.rejects(
        underway.ops.tasks({ batchId: bad as string }),
        (error: Error) => error instanceof ValidationError && /batchId/.test(error.message),
        String(bad),
      );
    await assert.rejects(
      underway.ops.cancel({ batchID: a.batchId } as never),
      (error: Error) => error instanceof ValidationError && /did you mean "batchId"/.test(error.message),
    );

    // The CLI: --batch, its bad and empty values.
    const cli = (...args: string[]) => runCli(args, { DATABASE_URL: db().url });
    const shown = await cli("tasks", "list", "--batch", a.batchId, "--oldest", "--json");
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(
      (JSON.parse(shown.stdout) as { tasks: Array<{ id: string }> }).tasks.map((task) => task.id),
      stillIn,
    );
    // No --yes: were the empty value ever dropped, a dry run counts, and nothing is cancelled.
    for (const value of ["", "abc"]) {
      const refused = await cli("cancel", "--batch", value);
      assert.equal(refused.code, 2, `--batch ${JSON.stringify(value)}: ${refused.stderr}`);
      assert.match(refused.stderr, value === "" ? /--batch was given without a value/ : /batch id/);
    }

    // The dashboard: the filter, and the batch page's link to it.
    const handler = dashboard(underway, { authorize: () => "read-only" });
    const get = async (path: string) =>
      (await handler(new Request(`http://127.0.0.1${path}`, { headers: { host: "127.0.0.1" } }))).text();
    const page = await get(`/tasks?batch=${a.batchId}`);
    for (const id of stillIn) assert.match(page, new RegExp(`href="/tasks/${id}"`));
    for (const id of [...b.ids, ...loose, a.ids[1] ?? "", info?.callbackTaskId ?? ""])
      assert.doesNotMatch(page, new RegExp(`href="/tasks/${id}"`));
    assert.match(await get(`/batches/${a.batchId}`), new RegExp(`href="/tasks\\?batch=${a.batchId}"`));
    assert.match(await get("/tasks?batch=abc"), /a batch id is a positive integer/);
  });

  it("ops.batch: undefined for an unknown id, a ValidationError for a malformed one", async () => {
    const underway = await client();
    assert.equal(await underway.ops.batch("987654321"), undefined);
    for (const bad of ["", "0", "-1", "1.5", "abc", "99999999999999999999"])
      await assert.rejects(underway.ops.batch(bad), ValidationError);
  });

  it("retention deletes a completed batch once its ttl passed, never one still running", async () => {
    const underway = await client();
    const pool = db().pool;
    const members = underway.job(defineJob({ queue: "batch_ttl", input: N, options: { ttlMs: 1 } }));
    const done = await members.enqueueBatch(inputs(1));
    await members.drain(async () => null);
    const running = await members.enqueueBatch(inputs(1));
    await pool.query("update underway.batch set created_at = now() - interval '1 day' where id = $1", [
      running.batchId,
    ]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await sweepExpired(underway);
    assert.equal(await underway.ops.batch(done.batchId), undefined);
    assert.equal((await underway.ops.batch(running.batchId))?.remaining, 1);
  });
});
