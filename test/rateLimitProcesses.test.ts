// Rate limits across worker processes (issue 21): four processes claim the
// same queue at once, and the attempts started, as the database recorded
// them, never exceed the limit in any window of the period, per budget,
// while the queue still starts them at the limit's pace. An operator's
// change from the CLI while workers run: test/rateLimitCli.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { rateJob } from "./fixtures/rateDefinitions.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { spawnFixture, stopFixtures, type FixtureProcess } from "./support/processes.ts";
import { budgetWindows, overallRate, sustainedRate } from "./support/rateWindows.ts";
import { summary } from "./support/faults.ts";

describe("rate limits across worker processes", () => {
  let workers: FixtureProcess[] = [];
  // Registered before the database's hooks: after hooks run in that order,
  // so the workers stop before the database is dropped.
  after(() => stopFixtures(workers));
  const { db, connect } = useDatabase("rate_processes");
  const own = { queue: "rate_four", rateLimit: { limit: 50, periodMs: 1_000 } };
  const keyed = { queue: "rate_four_keys", rateLimit: { limit: 20, periodMs: 1_000 } };
  const failFirst = [3, 77, 120, 150, 151, 199];

  // Four processes, each running a worker of both queues (default prefetch:
  // tasks past the free slots wait claimed, unstarted, and are admitted or
  // given back when they would start).
  before(async () => {
    workers = Array.from({ length: 4 }, () =>
      spawnFixture("rateWorker", {
        url: db().url,
        queues: [own, keyed],
        handlerMs: 10,
        concurrency: 5,
        failFirst,
      }),
    );
    await Promise.all(workers.map((worker) => worker.waitFor((line) => line["ready"] === true)));
  });

  const states = async (queue: string) =>
    (
      await db().pool.query<{ state: string; attempt: number; n: number }>(
        `select state::text, attempt, count(*)::int as n from underway.task_all where queue_name = $1
          group by 1, 2 order by 1, 2`,
        [queue],
      )
    ).rows;
  const done = (queue: string, count: number) => async () => {
    const rows = await states(queue);
    return (
      rows.every((row) => row.state === "succeeded") && rows.reduce((sum, row) => sum + row.n, 0) === count
    );
  };

  it("four processes start at most the limit in any window, at the limit's pace, retries included", async () => {
    const underway = await connect();
    const { queue, rateLimit } = own;
    await underway.job(rateJob(queue, rateLimit)).enqueueMany(Array.from({ length: 200 }, (_, n) => ({ n })));
    await eventually(done(queue, 200), 15_000, "200 tasks and their retries");
    // No attempt spent on holding back: one each, two for those failing once.
    assert.deepEqual(await states(queue), [
      { state: "succeeded", attempt: 1, n: 194 },
      { state: "succeeded", attempt: 2, n: 6 },
    ]);
    const [budget] = await budgetWindows(db().pool, "underway", queue, rateLimit.limit, rateLimit.periodMs);
    assert.ok(budget !== undefined);
    const sustained = sustainedRate(budget, rateLimit.limit, rateLimit.periodMs);
    summary("rate limit, 4 processes", {
      starts: budget.starts,
      mostInAWindow: budget.most,
      windowsOver: budget.over,
      spanSeconds: budget.spanSeconds.toFixed(2),
      reuseMs: budget.reuseMs?.toFixed(1) ?? "-",
      sustainedPerSecond: sustained.toFixed(1),
      overallPerSecond: overallRate(budget, rateLimit.limit, rateLimit.periodMs).toFixed(1),
    });
    assert.equal(budget.starts, 206);
    assert.equal(budget.over, 0, `no window over the limit: ${JSON.stringify(budget)}`);
    assert.ok(sustained >= 45, `within 10% of the limit: ${sustained.toFixed(1)} starts a second`);
    const { rows } = await db().pool.query<{ n: number }>(
      "select count(distinct worker_id)::int as n from underway.task_finished where queue_name = $1",
      [queue],
    );
    assert.ok((rows[0]?.n ?? 0) >= 2, "more than one process took part");
  });

  it("keeps each key within its own budget across processes; a key's backlog does not hold back the others", async () => {
    const underway = await connect();
    const { queue, rateLimit } = keyed;
    const job = underway.job(rateJob(queue, rateLimit));
    await job.enqueueMany(Array.from({ length: 80 }, (_, n) => ({ n: 1_000 + n, key: "a" })));
    await job.enqueueMany(
      Array.from({ length: 40 }, (_, n) => ({ n: 2_000 + n, key: n % 2 === 0 ? "b" : "c" })),
    );
    await eventually(done(queue, 120), 15_000, "every key's tasks");
    const windows = await budgetWindows(db().pool, "underway", queue, rateLimit.limit, rateLimit.periodMs);
    summary(
      "rate limit per key, 4 processes",
      Object.fromEntries(
        windows.map((w) => [w.key, `${w.starts} starts, most ${w.most}, span ${w.spanSeconds.toFixed(2)} s`]),
      ),
    );
    assert.deepEqual(
      windows.map((w) => [w.key, w.starts, w.over]),
      [
        ["a", 80, 0],
        ["b", 20, 0],
        ["c", 20, 0],
      ],
    );
    const a = windows.find((w) => w.key === "a");
    assert.ok(
      a !== undefined && sustainedRate(a, 20, 1_000) >= 18,
      `a at its limit's pace: ${JSON.stringify(a)}`,
    );
    assert.ok(a.spanSeconds >= 3, "a's backlog took four windows");
    // b and c fit in one window each: enqueued behind a's backlog, they
    // start in the first seconds of it, not after it.
    for (const key of ["b", "c"]) {
      const w = windows.find((row) => row.key === key);
      assert.ok(w !== undefined, key);
      const after = (w.lastAt.getTime() - a.firstAt.getTime()) / 1000;
      assert.ok(after < 1.5, `${key} not held back by a: its last start ${after} s after a's first`);
    }
  });
});
