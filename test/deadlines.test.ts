// Start deadlines (issue 21, part 5): a task not started by its `startBy`
// (or within `startWithinMs` of its enqueue) never starts, whatever the
// number of worker processes claiming, and ends cancelled with the reason;
// one started in time runs as any other, its retries included.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { ConfigError, defineJob, migrate, silentLogger, snooze, Underway } from "../src/index.ts";
import { allMigrations } from "../src/migrate.ts";
import { createRunTable } from "./support/faults.ts";
import { useDatabase } from "./support/harness.ts";
import { spawnFixture, stopFixtures } from "./support/processes.ts";

const N = t.type({ n: t.number });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("start deadlines", () => {
  const { db, connect } = useDatabase("deadlines");

  it("a task past its deadline never starts, even with three worker processes claiming, and ends cancelled with the reason", async () => {
    const underway = await connect();
    const pool = db().pool;
    await createRunTable(pool);
    const job = underway.job(defineJob({ queue: "deadline", input: N }));
    // No reaper in the workers: only the claim keeps late tasks from starting.
    const workers = Array.from({ length: 3 }, () =>
      spawnFixture("faultWorker", {
        url: db().url,
        queue: "deadline",
        handlerMs: 20,
        reapIntervalMs: 0,
        pollIntervalMs: 50,
      }),
    );
    try {
      await Promise.all(workers.map((worker) => worker.waitFor((line) => line["ready"] === true)));
      await underway.pauseQueue("deadline");
      const late = await job.enqueue({ n: 1 }, { startWithinMs: 200 });
      const lateGrouped = await job.enqueue({ n: 2 }, { startWithinMs: 200, group: "tenant" });
      const lateBy = await job.enqueue({ n: 3 }, { startBy: new Date(Date.now() + 200) });
      const onTime = await job.enqueue({ n: 4 }, { startWithinMs: 120_000 });
      const plain = await job.enqueue({ n: 5 });
      const outcomes = [late, lateGrouped, lateBy].map((id) => job.outcome(id));
      await sleep(400);
      await underway.resumeQueue("deadline");
      // Bounded, and naming every task's state when it fails: a claim that
      // starved the queue (late heads locked but never started, and no
      // reaper here) would otherwise hang until the runner's timeout.
      const states = async (): Promise<string> =>
        JSON.stringify(
          (
            await pool.query(
              `select id::text, state, attempt, group_key, start_by < now() as late, worker_id, started_at is not null as started
                 from underway.task where queue_name = 'deadline' order by id`,
            )
          ).rows,
        );
      for (const id of [onTime, plain]) {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), 30_000);
        });
        const ended = await Promise.race([job.result(id).then(() => "ended" as const), timedOut]);
        clearTimeout(timer);
        if (ended === "timeout") assert.fail(`task ${id} did not end within 30 s; tasks: ${await states()}`);
      }
      // Several claim rounds of every process after the resume.
      await sleep(600);
      const { rows: ran } = await pool.query<{ task_id: string }>(
        "select task_id::text from fault_run order by id",
      );
      assert.deepEqual(ran.map((row) => row.task_id).sort(), [onTime, plain].sort());
      const { rows: waiting } = await pool.query<{ id: string; attempt: number }>(
        "select id::text, attempt from underway.task where state = 'pending' order by id",
      );
      assert.deepEqual(
        waiting,
        [late, lateGrouped, lateBy].map((id) => ({ id, attempt: 0 })),
      );
      const why = await underway.ops.explain(late);
      assert.ok(why?.reasons[0]?.kind === "deadline" && why.reasons[0].passed);

      // The reaper's sweep (here a drain's, of another queue) ends them cancelled.
      await underway.job(defineJob({ queue: "deadline_other", input: N })).drain(async () => null);
      for (const outcome of await Promise.all(outcomes)) assert.equal(outcome._tag, "cancelled");
      for (const id of [late, lateGrouped, lateBy]) {
        const detail = await underway.ops.task(id);
        assert.equal(detail?.state, "cancelled");
        assert.equal(detail?.attempt, 0);
        assert.match(
          detail?.error ?? "",
          /^not started by \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(its startBy deadline\)$/,
        );
        assert.match((await underway.ops.explain(id))?.summary ?? "", /ended cancelled/);
      }
      const { rows: after } = await pool.query<{ n: string }>("select count(*)::text as n from fault_run");
      assert.equal(after[0]?.n, "2");
      // An operator's retry brings one back without its deadline: it runs.
      const retried = await underway.ops.retry({ ids: [late] });
      assert.equal(retried.changed, 1);
      await job.result(late);
      const { rows: ranLate } = await pool.query("select 1 from fault_run where task_id = $1", [late]);
      assert.equal(ranLate.length, 1);
    } finally {
      await stopFixtures(workers);
    }
  });

  it("a task started before its deadline runs normally, and its retries after the deadline still run", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "deadline_retry",
        input: N,
        options: { startWithinMs: 300, retry: { maxAttempts: 2, initialIntervalMs: 500, jitter: 0 } },
      }),
    );
    const id = await job.enqueue({ n: 1 });
    const first = await job.runOnce(async () => {
      throw new Error("not yet");
    });
    assert.equal(first?._tag, "retrying");
    const { rows } = await db().pool.query<{ start_by: Date | null }>(
      "select start_by from underway.task where id = $1",
      [id],
    );
    assert.equal(rows[0]?.start_by, null, "met at the first start, so cleared");
    await sleep(600);
    // A sweep past the deadline leaves the retry alone.
    const counts = await job.drain(async ({ n }) => n + 1);
    assert.deepEqual([counts.succeeded, counts.cancelled], [1, 0]);
    const outcome = await job.outcome(id);
    assert.ok(outcome._tag === "succeeded" && outcome.attempt === 2);
  });

  it("a definition's startWithinMs and an enqueue's startBy set the deadline on the database clock", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "deadline_set",
        input: N,
        options: { startWithinMs: 60_000 },
        optionsFor: ({ n }) => (n === 2 ? { startWithinMs: 5_000 } : {}),
      }),
    );
    const startBy = new Date(Date.now() + 3_600_000);
    const ids = [
      await job.enqueue({ n: 1 }),
      await job.enqueue({ n: 2 }),
      await job.enqueue({ n: 3 }, { startBy }),
      await job.enqueue({ n: 4 }, { startWithinMs: null }),
      ...(await job.enqueueMany([{ n: 5 }, { n: 6 }], { startWithinMs: 10_000 })),
    ];
    const { rows } = await db().pool.query<{ within: number | null }>(
      `select extract(epoch from start_by - created_at) * 1000 as within
         from underway.task where id = any($1::bigint[]) order by id`,
      [ids],
    );
    const within = rows.map((row) =>
      row.within === null ? null : Math.round(Number(row.within) / 100) * 100,
    );
    assert.deepEqual(within.slice(0, 2), [60_000, 5_000]);
    assert.ok(Math.abs((within[2] ?? 0) - 3_600_000) < 1_000, String(within[2]));
    assert.deepEqual(within.slice(3), [null, 10_000, 10_000]);
    // Without any deadline: nothing stored.
    const plain = underway.job(defineJob({ queue: "deadline_none", input: N }));
    const none = await plain.enqueue({ n: 1 });
    const { rows: stored } = await db().pool.query("select start_by from underway.task where id = $1", [
      none,
    ]);
    assert.equal(stored[0]?.start_by, null);
  });

  it("rejects bad deadlines with a clear error naming the option, writing nothing", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "deadline_bad", input: N }));
    const soon = new Date(Date.now() + 60_000);
    const cases: ReadonlyArray<[Record<string, unknown>, RegExp]> = [
      [
        { startBy: new Date(Date.now() - 1) },
        /startBy \(.*\) is not in the future: the task could never start/,
      ],
      [{ startBy: new Date(Number.NaN) }, /startBy must be a valid Date/],
      [{ startBy: "2099-01-01" }, /startBy/],
      [{ startBy: Date.now() + 60_000 }, /startBy/],
      [{ startBy: soon, startWithinMs: 1_000 }, /give startWithinMs or startBy, not both/],
      [{ startBy: soon, runAt: new Date(soon.getTime() + 1) }, /startBy .* must be after runAt/],
      [{ startWithinMs: 0 }, /startWithinMs/],
      [{ startWithinMs: -5 }, /startWithinMs/],
      [{ startWithinMs: Number.NaN }, /startWithinMs/],
      [{ startWithinMs: Infinity }, /startWithinMs/],
      [{ startWithinMs: "1000" }, /startWithinMs/],
      [{ startWithinMs: 500, delayMs: 500 }, /startWithinMs \(500\) must exceed delayMs \(500\)/],
      [{ startwithinMs: 1_000 }, /startwithinMs.*startWithinMs/],
      [{ startby: soon }, /startby.*startBy/],
      [{ expiresAt: soon }, /expiresAt/],
    ];
    for (const [options, pattern] of cases) {
      await assert.rejects(
        job.enqueueMany([{ n: 1 }, { n: 2 }], options as never),
        (error: unknown) => error instanceof ConfigError && pattern.test(error.message),
        JSON.stringify(options),
      );
      await assert.rejects(job.enqueue({ n: 1 }, options as never), ConfigError, JSON.stringify(options));
    }
    const { rows } = await db().pool.query("select 1 from underway.task where queue_name = 'deadline_bad'");
    assert.equal(rows.length, 0);
    for (const startWithinMs of [0, -1, 1.5e12 * 100, Number.NaN])
      assert.throws(
        () => defineJob({ queue: "deadline_def", input: N, options: { startWithinMs } }),
        (error: unknown) => error instanceof ConfigError && /startWithinMs/.test(error.message),
        String(startWithinMs),
      );
    assert.throws(
      () => defineJob({ queue: "deadline_def", input: N, options: { startWithinMs: 100, delayMs: 200 } }),
      /must exceed delayMs/,
    );
  });

  it("migration 0017 carries tasks over: no deadline, no snoozes, finished rows as they were; they run and snooze after it", async () => {
    const schema = "carry17";
    const pool = db().pool;
    const before = allMigrations(schema).filter((migration) => migration.version <= 16);
    await pool.query(`begin;\n${before.map((migration) => migration.sql).join("\n")}\ncommit;`);
    await pool.query("insert into carry17.queue (name) values ('carry17')");
    const { rows: made } = await pool.query<{ id: string }>(
      `insert into carry17.task (queue_name, state, input, attempt, max_attempts, retry_initial_ms, retry_max_ms,
                                 retry_coefficient, retry_jitter, timeout_ms, heartbeat_ms, ttl_ms, group_key)
       values ('carry17', 'pending', '{"n":1}', 0, 3, 10, 20, 2, 0, 60000, 30000, 86400000, 'g'),
              ('carry17', 'pending', '{"n":2}', 0, 3, 10, 20, 2, 0, 60000, 30000, 86400000, null)
       returning id::text`,
    );
    const { rows: ended } = await pool.query<{ id: string }>(
      `insert into carry17.task_finished (id, queue_name, state, input, output, attempt, max_attempts, retry_initial_ms,
                                          retry_max_ms, retry_coefficient, retry_jitter, timeout_ms, heartbeat_ms,
                                          ttl_ms, finished_at)
       values (nextval(pg_get_serial_sequence('carry17.task', 'id')), 'carry17', 'succeeded', '{"n":0}', '{"ok":true}', 1, 3, 10, 20, 2, 0, 60000, 30000, 86400000, now())
       returning id::text`,
    );
    const snapshot = async () =>
      (
        await pool.query(
          "select id::text, state::text, input, output, attempt from carry17.task_all order by id",
        )
      ).rows;
    const rows = await snapshot();
    const result = await migrate(pool, { schema });
    assert.equal(result.applied[0], "0017_snooze_deadlines");
    assert.deepEqual(await snapshot(), rows);
    const { rows: added } = await pool.query<{ start_by: Date | null; snoozes: number }>(
      "select start_by, snoozes from carry17.task_all order by id",
    );
    assert.deepEqual(
      added,
      rows.map(() => ({ start_by: null, snoozes: 0 })),
    );
    const underway = await Underway.connect({ pool, schema, logger: silentLogger });
    try {
      const job = underway.job(defineJob({ queue: "carry17", input: N }));
      const first = made[0]?.id ?? "";
      assert.equal((await job.runOnce(async () => snooze(0)))?._tag, "snoozed");
      const counts = await job.drain(async ({ n }) => n);
      assert.deepEqual([counts.succeeded, counts.snoozed], [2, 0]);
      assert.equal((await underway.ops.task(first))?.state, "succeeded");
      assert.equal((await underway.ops.task(ended[0]?.id ?? ""))?.state, "succeeded");
    } finally {
      await underway.close();
    }
  });
});
