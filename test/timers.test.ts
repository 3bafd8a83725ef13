import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob, defineStepJob, done, nextAfter, Steps, type Underway } from "../src/index.ts";
import { eventually, useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });

// The poll is far off, so only the next-due timer can start a task on time.
const idleWorker = { pollIntervalMs: 5_000 } as const;
// The claim and a busy 2-core machine add latency; the poll would add
// seconds (5 s here), which is what this bound tells apart. 150 ms was
// passed once in CI (one of 20 tasks due 25 ms apart started 208 ms late,
// with another test file running beside it on 2 cores): 300 ms still
// fails any start left to the poll.
const lateBoundMs = 300;

describe("timers on time", () => {
  const { db, connect } = useDatabase("timers");

  /** started_at − run_at per task, both on the database clock. */
  const lateness = async (where: string, value: string): Promise<number[]> => {
    const { rows } = await db().pool.query<{ late_ms: number }>(
      `select (extract(epoch from started_at - run_at) * 1000)::float8 as late_ms
         from underway.task_all where ${where} = $1 order by id`,
      [value],
    );
    return rows.map((row) => row.late_ms);
  };

  /** An idle worker registers for NOTIFY; an insert before that is found by the (5 s) poll only. */
  const waiting = (underway: Underway, queue: string) =>
    underway
      .listening()
      .then(() =>
        eventually(
          async () =>
            (await db().pool.query("select 1 from underway.queue_waiter where queue_name = $1", [queue]))
              .rowCount === 1,
          10_000,
          "the worker to wait for inserts",
        ),
      );

  const assertOnTime = (late: ReadonlyArray<number>, what: string) => {
    for (const ms of late) {
      assert.ok(ms >= 0, `${what} started ${-ms} ms before its run_at`);
      assert.ok(ms < lateBoundMs, `${what} started ${ms} ms after its run_at`);
    }
  };

  it("starts a delayed task on time on an idle worker", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "timers_delay", input: N }));
    const worker = job.start(async () => null, idleWorker);
    await waiting(underway, job.queue);
    const id = await job.enqueue({ n: 1 }, { delayMs: 300 });
    await job.result(id);
    await worker.stop();
    const late = await lateness("id", id);
    assert.equal(late.length, 1);
    assertOnTime(late, "a task delayed 300 ms");
  });

  it("starts a retry on time", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "timers_retry",
        input: N,
        options: { retry: { maxAttempts: 2, initialIntervalMs: 300, jitter: 0 } },
      }),
    );
    const worker = job.start(async (_input, { attempt }) => {
      if (attempt === 1) throw new Error("first attempt fails");
      return null;
    }, idleWorker);
    await waiting(underway, job.queue);
    const id = await job.enqueue({ n: 1 });
    await job.result(id);
    await worker.stop();
    // The row's run_at and started_at are the retry's.
    const { rows } = await db().pool.query<{ attempt: number }>(
      "select attempt from underway.task_all where id = $1",
      [id],
    );
    assert.equal(rows[0]?.attempt, 2);
    assertOnTime(await lateness("id", id), "a retry after 300 ms");
  });

  it("starts each nextAfter step of a job on time", async () => {
    const underway = await connect();
    const def = defineStepJob({ queue: "timers_steps", input: N });
    const job = underway.job(def);
    const steps = Steps.of(def)
      .step(async ({ n }) => nextAfter({ n: n + 1 }, 300))
      .step(async ({ n }) => nextAfter({ n: n + 1 }, 300))
      .step(async ({ n }) => done(n));
    const worker = job.start(steps, idleWorker);
    await waiting(underway, job.queue);
    const jobId = await job.enqueue({ n: 0 });
    assert.equal(await job.result(jobId), 2);
    await worker.stop();
    const late = await lateness("job_id", jobId);
    assert.equal(late.length, 3);
    assertOnTime(late.slice(1), "a step after nextAfter(…, 300)");
  });

  it("starts 20 delayed tasks due 25 ms apart, each on time", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "timers_many", input: N }));
    const worker = job.start(async () => null, idleWorker);
    await waiting(underway, job.queue);
    // Due times 25 ms apart: each wake-up's claim must learn the next one.
    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, i) => job.enqueue({ n: i }, { delayMs: 200 + i * 25 })),
    );
    await Promise.all(ids.map((id) => job.result(id)));
    await worker.stop();
    const late = (await Promise.all(ids.map((id) => lateness("id", id)))).flat();
    assertOnTime(late, "one of 20 delayed tasks");
  });
});
