// Fan-out and fan-in (issue 22, part 1): a step starts child tasks and the
// job's next step is enqueued once, when the last child ends, with their
// outputs in order; the failure policy both ways; a parent's cancel
// cancels its unfinished children; hostile shapes (no children, 10,000,
// a paused child queue, step jobs as children); and kill -9 of worker
// processes at any point loses no child, starts none twice, and continues
// the parent exactly once.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import pg from "pg";
import {
  ConfigError,
  FatalError,
  Steps,
  child,
  defineJob,
  defineStepJob,
  done,
  fanOut,
  next,
  type JobOutcome,
  dashboard,
  type Underway,
} from "../src/index.ts";
import { perform } from "../src/testing/index.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { spawnFixture, stopFixtures, type FixtureProcess } from "./support/processes.ts";
import { crashParent } from "./fixtures/fanOutDefinitions.ts";

const Num = t.type({ n: t.number });
const double = defineJob({ queue: "fo_double", input: Num, output: t.number });
const shout = defineJob({ queue: "fo_shout", input: t.type({ word: t.string }), output: t.string });
const flaky = defineJob({
  queue: "fo_flaky",
  input: Num,
  output: t.number,
  options: { retry: { maxAttempts: 1 } },
});

const rows = async (pool: pg.Pool, sql: string, params: unknown[] = []) =>
  (await pool.query(sql, params)).rows;

// The outcomes of `jobIds`, or a failure naming the jobs that have none after
// `ms`: a lost child or fan-in leaves its job waiting forever, which must fail
// here, by name, rather than as the file's timeout.
const outcomesWithin = async <T>(
  jobIds: ReadonlyArray<string>,
  outcome: (jobId: string) => Promise<T>,
  ms: number,
): Promise<ReadonlyArray<T>> => {
  const waiting = new Set(jobIds);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `no outcome after ${ms} ms (children or fan-in lost?) for jobs ${[...waiting].join(", ")}`,
          ),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([
      Promise.all(
        jobIds.map(async (jobId) => {
          const got = await outcome(jobId);
          waiting.delete(jobId);
          return got;
        }),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
};

describe("fan-out and fan-in", () => {
  const { db, connect } = useDatabase("fanout");
  let underwayClient: Underway | undefined;
  const client = async () => (underwayClient ??= await connect());

  it("hands the children's outputs to the next step in order, typed, once they all ended", async () => {
    const underway = await client();
    const parent = defineStepJob({
      queue: "fo_parent",
      input: t.type({ count: t.number }),
      output: t.unknown,
    });
    const steps = Steps.of(parent)
      .step(async ({ count }) => fanOut([...Array.from({ length: count }, (_, n) => child(double, { n }))]))
      .step(async (doubled) => next({ doubled, sum: doubled.reduce((a, b) => a + b, 0) }))
      .step(async ({ doubled, sum }) =>
        fanOut([child(shout, { word: `sum ${sum}` }), child(double, { n: doubled.length })] as const),
      )
      .step(async ([word, length]) => done({ word: word.toUpperCase(), length }));
    const jobs = underway.job(parent);
    const workers = [
      jobs.start(steps, { pollIntervalMs: 50 }),
      // Children finish in reverse order of their inputs: the order handed on is the listed one.
      underway.job(double).start(
        async ({ n }) => {
          await new Promise((resolve) => setTimeout(resolve, (20 - n) * 5));
          return n * 2;
        },
        { pollIntervalMs: 50, concurrency: 20 },
      ),
      underway.job(shout).start(async ({ word }) => `${word}!`, { pollIntervalMs: 50 }),
    ];
    try {
      const jobId = await jobs.enqueue({ count: 20 });
      const output = await jobs.result(jobId);
      assert.deepEqual(output, { word: "SUM 380!", length: 40 });
      const handed = await rows(
        db().pool,
        "select input from underway.task_all where job_id = $1 and step_index = 1",
        [jobId],
      );
      assert.deepEqual(
        handed[0]?.input,
        Array.from({ length: 20 }, (_, n) => n * 2),
      );
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
    }
  });

  it("policy fail: a child's final failure fails the job at once, naming it, and cancels the others", async () => {
    const underway = await client();
    const parent = defineStepJob({ queue: "fo_fail", input: t.type({ count: t.number }), output: t.unknown });
    let ranAfter = 0;
    const steps = Steps.of(parent)
      .step(async ({ count }) => fanOut(Array.from({ length: count }, (_, n) => child(flaky, { n }))))
      .step(async () => {
        ranAfter++;
        return done(null);
      });
    const jobs = underway.job(parent);
    const parentWorker = jobs.start(steps, { pollIntervalMs: 50 });
    const aborted: number[] = [];
    // Child 2 fails for good; the others run until their signal fires.
    const childWorker = underway.job(flaky).start(
      async ({ n }, { signal }) => {
        if (n === 2) {
          await new Promise((resolve) => setTimeout(resolve, 200));
          throw new FatalError(`child ${n} broke`);
        }
        await new Promise<void>((resolve) =>
          signal.addEventListener("abort", () => resolve(), { once: true }),
        );
        aborted.push(n);
        return n;
      },
      { pollIntervalMs: 50, concurrency: 3 },
    );
    const jobId = await jobs.enqueue({ count: 5 });
    try {
      const outcome = await jobs.outcome(jobId);
      assert.equal(outcome._tag, "failed");
      assert.equal(outcome.stepIndex, 1);
      if (outcome._tag === "failed")
        assert.match(outcome.error, /^child 3 of 5 \(task \d+, queue fo_flaky\) failed: child 2 broke$/);
      await assert.rejects(jobs.result(jobId), /child 3 of 5/);
      await eventually(
        async () =>
          (await rows(db().pool, "select 1 from underway.task where queue_name = 'fo_flaky'")).length === 0,
        10_000,
        "every child ended",
      );
      const states = await rows(
        db().pool,
        "select input->>'n' as n, state from underway.task_finished where queue_name = 'fo_flaky' order by id",
      );
      assert.deepEqual(
        states.map((row) => `${row.n}:${row.state}`),
        ["0:cancelled", "1:cancelled", "2:failed", "3:cancelled", "4:cancelled"],
      );
      // The two running beside child 2 were aborted (and child 3, if the
      // worker claimed it in the instant child 2's end was being written).
      assert.deepEqual(aborted.sort().slice(0, 2), [0, 1]);
      assert.equal(ranAfter, 0);
      // Settled once: the cancelled children's ends, counted after the failure, write no second next step.
      const nextSteps = await rows(
        db().pool,
        "select state from underway.task_all where job_id = $1 and step_index = 1",
        [jobId],
      );
      assert.deepEqual(
        nextSteps.map((row) => row.state),
        ["failed"],
      );
    } finally {
      await Promise.all([parentWorker.stop(), childWorker.stop()]);
    }
  });

  it("policy continue: the next step gets every child's result, failures listed", async () => {
    const underway = await client();
    const parent = defineStepJob({ queue: "fo_cont", input: t.type({ count: t.number }), output: t.unknown });
    const steps = Steps.of(parent)
      .step(async ({ count }) =>
        fanOut(
          Array.from({ length: count }, (_, n) => child(flaky, { n })),
          { onChildFailure: "continue" },
        ),
      )
      .step(async (results) =>
        done(results.map((result) => (result.ok ? result.output : `${result.state}: ${result.error}`))),
      );
    const jobs = underway.job(parent);
    const workers = [
      jobs.start(steps, { pollIntervalMs: 50 }),
      underway.job(flaky).start(
        async ({ n }) => {
          if (n % 2 === 1) throw new FatalError(`odd ${n}`);
          return n * 10;
        },
        { pollIntervalMs: 50 },
      ),
    ];
    try {
      const jobId = await jobs.enqueue({ count: 4 });
      assert.deepEqual(await jobs.result(jobId), [0, "failed: odd 1", 20, "failed: odd 3"]);
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
    }
  });

  it("cancelling the waiting parent cancels its unfinished children and ends it cancelled", async () => {
    const underway = await client();
    const parent = defineStepJob({ queue: "fo_cancel", input: t.type({}), output: t.unknown });
    const slow = defineJob({ queue: "fo_slow", input: Num, output: t.number });
    const steps = Steps.of(parent)
      .step(async () => fanOut([0, 1, 2].map((n) => child(slow, { n }))))
      .step(async () => done(null));
    const jobs = underway.job(parent);
    const parentWorker = jobs.start(steps, { pollIntervalMs: 50 });
    const aborted: number[] = [];
    const slowWorker = underway.job(slow).start(
      async ({ n }, { signal }) => {
        await new Promise<void>((resolve) =>
          signal.addEventListener("abort", () => resolve(), { once: true }),
        );
        aborted.push(n);
        return n;
      },
      { pollIntervalMs: 50, concurrency: 1 },
    );
    try {
      const jobId = await jobs.enqueue({});
      await eventually(
        async () =>
          (
            await rows(
              db().pool,
              "select 1 from underway.task where queue_name = 'fo_slow' and state = 'in_progress'",
            )
          ).length === 1,
        10_000,
        "one child running",
      );
      assert.equal(await jobs.cancel(jobId), true);
      const outcome = await jobs.outcome(jobId);
      assert.equal(outcome._tag, "cancelled");
      assert.equal(outcome.stepIndex, 1);
      await eventually(
        async () =>
          (await rows(db().pool, "select 1 from underway.task where queue_name = 'fo_slow'")).length === 0,
        10_000,
        "every child ended",
      );
      const states = await rows(
        db().pool,
        "select state from underway.task_finished where queue_name = 'fo_slow'",
      );
      assert.deepEqual(
        states.map((row) => row.state),
        ["cancelled", "cancelled", "cancelled"],
      );
      assert.equal(aborted.length, 1);
      // A second cancel finds nothing waiting.
      assert.equal(await jobs.cancel(jobId), false);
    } finally {
      await Promise.all([parentWorker.stop(), slowWorker.stop()]);
    }
  });

  it("a child of a paused queue: the parent waits, visible in ops and on the job page; ops.cancel by job id cancels it", async () => {
    const underway = await client();
    const parent = defineStepJob({ queue: "fo_paused_parent", input: t.type({}), output: t.unknown });
    const held = defineJob({ queue: "fo_paused_child", input: Num, output: t.number });
    const steps = Steps.of(parent)
      .step(async () =>
        fanOut([child(held, { n: 1 }), child(held, { n: 2 })], { onChildFailure: "continue" }),
      )
      .step(async (results) => done(results));
    const jobs = underway.job(parent);
    await underway.ops.pause(held.queue);
    const jobId = await jobs.enqueue({});
    await jobs.drain(steps);
    const heldWorker = underway.job(held).start(async ({ n }) => n, { pollIntervalMs: 50 });
    try {
      const [fan] = await underway.ops.fanOuts(jobId);
      assert.ok(fan !== undefined);
      assert.deepEqual(
        { ...fan, batchId: null, parentTaskId: null },
        {
          batchId: null,
          parentTaskId: null,
          stepIndex: 1,
          policy: "continue",
          settled: null,
          nextTaskId: null,
          error: null,
          total: 2,
          succeeded: 0,
          failed: 0,
          cancelled: 0,
        },
      );
      const batch = await underway.ops.batch(fan.batchId);
      assert.equal(batch?.remaining, 2);
      assert.equal(batch?.fanOut?.jobId, jobId);
      assert.equal(batch?.fanOut?.settled, null);
      // Not final while it waits: outcome() does not resolve with the step that fanned out.
      const early = await Promise.race([
        jobs.outcome(jobId, { pollIntervalMs: 50 }),
        new Promise((resolve) => setTimeout(() => resolve("waiting"), 500)),
      ]);
      assert.equal(early, "waiting");
      const handler = dashboard(underway, { authorize: () => "admin" });
      const page = await (
        await handler(new Request(`http://127.0.0.1/jobs/${jobId}`, { headers: { host: "127.0.0.1" } }))
      ).text();
      assert.match(page, /waiting: 0 of 2 children ended/);
      assert.match(page, new RegExp(`href="/batches/${fan.batchId}"`));
      assert.match(page, /Cancel job/);
      // The graph: step 0 done, then the fan-out waiting on its two children.
      const graphOf = (text: string) =>
        [
          ...(/<ol class="job-graph"[^>]*>([\s\S]*?)<\/ol>/.exec(text)?.[1] ?? "").matchAll(
            /<li\s+class="node ([a-z-]+)"\s+data-(?:step="(\d+)" data-state="(\w+)"|fan-out="\d+"\s+data-settled="(\w+)"\s+data-counts="([\d/]+)")/g,
          ),
        ].map((m) => (m[1] === "step" ? `step ${m[2]} ${m[3]}` : `fan-out ${m[4]} ${m[5]}`));
      assert.deepEqual(graphOf(page), ["step 0 succeeded", "fan-out waiting 0/0/0/2"]);
      // The dashboard's "Cancel job" is ops.cancel({ jobId }).
      const cancelled = await underway.ops.cancel({ jobId });
      assert.equal(cancelled.changed, 3, "two pending children and the waiting next step");
      assert.equal((await jobs.outcome(jobId))._tag, "cancelled");
      const after = await underway.ops.batch(fan.batchId);
      assert.equal(after?.cancelled, 2);
      assert.equal(after?.fanOut?.settled, "cancelled");
      const settled = await (
        await handler(new Request(`http://127.0.0.1/jobs/${jobId}`, { headers: { host: "127.0.0.1" } }))
      ).text();
      assert.deepEqual(graphOf(settled), [
        "step 0 succeeded",
        "fan-out cancelled 0/0/2/0",
        "step 1 cancelled",
      ]);
    } finally {
      await heldWorker.stop();
      await underway.ops.resume(held.queue);
    }
  });

  it("10,000 children: enqueued with the step in one statement, the next step enqueued once with 10,000 outputs in order", async () => {
    const underway = await client();
    const parent = defineStepJob({ queue: "fo_big", input: t.type({}), output: t.unknown });
    const many = defineJob({ queue: "fo_many", input: Num, output: t.number });
    let fanIns = 0;
    const steps = Steps.of(parent)
      .step(async () => fanOut(Array.from({ length: 10_000 }, (_, n) => child(many, { n }))))
      .step(async (outputs) => {
        fanIns++;
        return done({ count: outputs.length, ordered: outputs.every((value, index) => value === index) });
      });
    const jobs = underway.job(parent);
    const workers = [
      jobs.start(steps, { pollIntervalMs: 50 }),
      underway.job(many).start(async ({ n }) => n, { pollIntervalMs: 50, concurrency: 50 }),
      underway.job(many).start(async ({ n }) => n, { pollIntervalMs: 50, concurrency: 50 }),
    ];
    try {
      const jobId = await jobs.enqueue({});
      assert.deepEqual(await jobs.result(jobId), { count: 10_000, ordered: true });
      assert.equal(fanIns, 1);
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
    }
  });

  it("perform captures a fan-out request instead of running the children", async () => {
    const parent = defineStepJob({
      queue: "fo_perform",
      input: t.type({ words: t.array(t.string) }),
      output: t.unknown,
    });
    const steps = Steps.of(parent)
      .step(async ({ words }) =>
        fanOut(
          words.map((word) => child(shout, { word })),
          { onChildFailure: "continue" },
        ),
      )
      .step(async (results) => done(results.length));
    const result = await perform(parent, steps, { words: ["a", "b"] });
    assert.equal(result._tag, "fannedOut");
    if (result._tag === "fannedOut") {
      assert.equal(result.stepIndex, 0);
      assert.equal(result.onChildFailure, "continue");
      assert.deepEqual(result.children, [
        { queue: "fo_shout", input: { word: "a" } },
        { queue: "fo_shout", input: { word: "b" } },
      ]);
    }
  });

  it("no children: the next step runs at once with an empty list", async () => {
    const underway = await client();
    const parent = defineStepJob({ queue: "fo_empty", input: t.type({}), output: t.unknown });
    const steps = Steps.of(parent)
      .step(async () =>
        fanOut([] as ReturnType<typeof child<{ n: number }, { n: number }, number, number>>[]),
      )
      .step(async (outputs) => done({ got: outputs.length }));
    const jobs = underway.job(parent);
    const jobId = await jobs.enqueue({});
    await jobs.drain(steps);
    assert.deepEqual(await jobs.result(jobId), { got: 0 });
  });

  it("refuses step jobs as children, bad inputs, typo'd options and a fan-out with no step after it", async () => {
    const stepChild = defineStepJob({ queue: "fo_step_child", input: Num, output: t.unknown });
    assert.throws(() => child(stepChild, { n: 1 }), ConfigError);
    assert.throws(
      () => child(double, { n: "1" } as unknown as { n: number }),
      /invalid input for queue fo_double/,
    );
    assert.throws(() => fanOut([], { onChildFailure: "ignore" as "fail" }), /onChildFailure/);
    assert.throws(() => fanOut([], { onChildFaliure: "fail" } as never), /unknown option onChildFaliure/);
    assert.throws(() => child(double, { n: 1 }, { uniqueKey: "k" } as never), /may not have uniqueKey/);
    const underway = await client();
    const parent = defineStepJob({ queue: "fo_last", input: t.type({}), output: t.unknown });
    const steps = Steps.of(parent).step(async () => fanOut([child(double, { n: 1 })]));
    const jobs = underway.job(parent);
    const jobId = await jobs.enqueue({});
    await jobs.drain(steps);
    const outcome = await jobs.outcome(jobId);
    assert.equal(outcome._tag, "failed");
    if (outcome._tag === "failed") assert.match(outcome.error, /no step follows it/);
    // A key from the child's definition (optionsFor), not its options: the
    // fan-out is refused when the step ends, and no child is written.
    const keyedChild = defineJob({
      queue: "fo_keyed_child",
      input: Num,
      optionsFor: () => ({ uniqueKey: "k" }),
    });
    const keyedParent = defineStepJob({ queue: "fo_keyed", input: t.type({}), output: t.unknown });
    const keyedSteps = Steps.of(keyedParent)
      .step(async () => fanOut([child(keyedChild, { n: 1 })]))
      .step(async () => done(null));
    const keyedJobs = underway.job(keyedParent);
    const keyedId = await keyedJobs.enqueue({});
    await keyedJobs.drain(keyedSteps);
    const keyed = await keyedJobs.outcome(keyedId);
    assert.equal(keyed._tag, "failed");
    if (keyed._tag === "failed")
      assert.match(keyed.error, /a child of a fan-out \(queue fo_keyed\) may not have uniqueKey/);
    const written = await db().pool.query("select 1 from underway.task where queue_name = 'fo_keyed_child'");
    assert.equal(written.rows.length, 0);
  });

  it("kill -9 of worker processes at any point: no child lost or doubled, each parent continues exactly once", async () => {
    const underway = await client();
    const pool = db().pool;
    await pool.query(
      "create table fan_runs (what text not null, job text not null, task bigint not null, attempt int not null)",
    );
    const jobs = underway.job(crashParent);
    const fixture = () => spawnFixture("fanOutWorker", { url: db().url });
    let workers: FixtureProcess[] = [fixture(), fixture(), fixture()];
    await Promise.all(workers.map((worker) => worker.waitFor((line) => line.ready === true)));
    const counts = [0, 1, 3, 10, 25];
    const jobIds = await jobs.enqueueMany(
      Array.from({ length: 30 }, (_, i) => ({ children: counts[i % 5] ?? 0 })),
    );
    // For 4 s, a random worker is killed (SIGKILL) every 150-400 ms, and a new one started.
    const killed: number[] = [];
    const until = Date.now() + 4_000;
    while (Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 150 + Math.random() * 250));
      const index = Math.floor(Math.random() * workers.length);
      const victim = workers[index];
      if (victim === undefined) continue;
      victim.child.kill("SIGKILL");
      await victim.exited;
      killed.push(victim.pid);
      workers = workers.map((worker, i) => (i === index ? fixture() : worker));
    }
    try {
      const outcomes = await outcomesWithin(jobIds, (jobId) => jobs.outcome(jobId), 30_000);
      for (const [i, outcome] of outcomes.entries()) {
        const children = counts[i % 5] ?? 0;
        const outputs = Array.from({ length: children }, (_, n) => n * 10);
        assert.deepEqual(
          outcome._tag === "succeeded" ? outcome.output : outcome,
          { sum: outputs.reduce((a, b) => a + b, 0), outputs },
          `job ${i} (${children} children)`,
        );
      }
      // Each parent: one fan-out step completed, one fan-in step task; a
      // step killed mid-run ran again (at-least-once), as a new attempt of
      // the same task, never as a second task.
      const stepTasks = await rows(
        pool,
        `select job_id::text as job, step_index, count(*)::int as tasks from underway.task_all
          where queue_name = 'fo_crash_parent' group by 1, 2`,
      );
      assert.equal(stepTasks.length, 60);
      assert.ok(
        stepTasks.every((row) => row.tasks === 1),
        JSON.stringify(stepTasks.filter((row) => row.tasks !== 1)),
      );
      const fanOuts = await rows(
        pool,
        "select job_id::text as job, settled from underway.fan_out where queue_name = 'fo_crash_parent'",
      );
      assert.equal(fanOuts.length, 24, "one fan-out per parent with children");
      assert.ok(fanOuts.every((row) => row.settled === "continued"));
      // Each child: exactly one task per (job, n), succeeded.
      const childTasks = await rows(
        pool,
        `select input->>'job' as job, input->>'n' as n, count(*)::int as tasks, min(state::text) as state
           from underway.task_all where queue_name = 'fo_crash_child' group by 1, 2`,
      );
      assert.equal(childTasks.length, 6 * (1 + 3 + 10 + 25));
      assert.ok(childTasks.every((row) => row.tasks === 1 && row.state === "succeeded"));
      // Runs of one task beyond the first are attempts a kill cut short: each a later attempt.
      const reruns = await rows(
        pool,
        `select task, count(*)::int as runs, count(distinct attempt)::int as attempts from fan_runs group by task having count(*) > 1`,
      );
      assert.ok(
        reruns.every((row) => row.runs === row.attempts),
        JSON.stringify(reruns),
      );
      const fanIns = await rows(
        pool,
        "select job, count(distinct task)::int as tasks from fan_runs where what = 'fanIn' group by job",
      );
      assert.equal(fanIns.length, 30);
      assert.ok(fanIns.every((row) => row.tasks === 1));
      assert.ok(killed.length >= 8, `killed ${killed.length} workers`);
    } finally {
      await stopFixtures(workers);
    }
  });

  it("a crash while the fan-out is being written: the step's success and its children are written together or not at all", async () => {
    // Deterministic where the random kills above rarely land: the fan-out's
    // write is held at a table it writes (a lock the test holds), its worker
    // is SIGKILLed and its connection ended there, then the lock released.
    // Were the success and the children two writes, a crash between them
    // would show: held at `batch` (children not yet written) the step's
    // success alone would stand and its children be lost (the job never
    // ends); held at `task_finished` (success not yet written) the children
    // alone would stand and the step's rerun fan out a second time.
    const underway = await client();
    const pool = db().pool;
    await pool.query(
      "create table if not exists fan_runs (what text not null, job text not null, task bigint not null, attempt int not null)",
    );
    const jobs = underway.job(crashParent);
    const workers: FixtureProcess[] = [];
    const fixture = () => {
      const started = spawnFixture("fanOutWorker", { url: db().url });
      workers.push(started);
      return started;
    };
    try {
      for (const table of ["batch", "task_finished"]) {
        const locker = await pool.connect();
        let jobId: string;
        try {
          await locker.query("begin");
          await locker.query(`lock table underway.${table} in share mode`);
          const worker = fixture();
          await worker.waitFor((line) => line.ready === true);
          jobId = await jobs.enqueue({ children: 3 });
          let held: number | undefined;
          await eventually(
            async () => {
              const [row] = await rows(
                pool,
                `select pid from pg_stat_activity where datname = current_database()
                    and wait_event_type = 'Lock' and pid <> $1`,
                [(await locker.query("select pg_backend_pid() as pid")).rows[0].pid],
              );
              held = row?.pid;
              return held !== undefined;
            },
            15_000,
            `the fan-out's write waiting at ${table}`,
          );
          worker.child.kill("SIGKILL");
          await worker.exited;
          await pool.query("select pg_terminate_backend($1)", [held]);
          await eventually(
            async () =>
              (await rows(pool, "select 1 from pg_stat_activity where pid = $1", [held])).length === 0,
            10_000,
            "the held connection gone",
          );
        } finally {
          await locker.query("rollback");
          locker.release();
        }
        const restarted = fixture();
        await restarted.waitFor((line) => line.ready === true);
        const [outcome] = await outcomesWithin([jobId], (id) => jobs.outcome(id), 20_000);
        assert.deepEqual(
          outcome?._tag === "succeeded" ? outcome.output : outcome,
          { sum: 30, outputs: [0, 10, 20] },
          `held at ${table}`,
        );
        const steps = await rows(
          pool,
          "select step_index, count(*)::int as tasks from underway.task_all where job_id = $1 group by 1 order by 1",
          [jobId],
        );
        assert.deepEqual(
          steps.map((row) => `${row.step_index}:${row.tasks}`),
          ["0:1", "1:1"],
          `held at ${table}: one task per step`,
        );
        // The crash landed in the write: the step's first attempt was cut there and ran again.
        const runs = await rows(
          pool,
          "select attempt from fan_runs where job = $1 and what = 'fanOut' order by attempt",
          [jobId],
        );
        assert.deepEqual(
          runs.map((row) => row.attempt),
          [1, 2],
          `held at ${table}: the step ran again`,
        );
        const fans = await rows(pool, "select 1 from underway.fan_out where job_id = $1", [jobId]);
        assert.equal(fans.length, 1, `held at ${table}: one fan-out`);
        const children = await rows(
          pool,
          "select 1 from underway.task_all where queue_name = 'fo_crash_child' and input->>'job' = $1",
          [jobId],
        );
        assert.equal(children.length, 3, `held at ${table}: three children`);
        await stopFixtures(workers.splice(0));
      }
    } finally {
      await stopFixtures(workers);
    }
  });
});

// Compile-time checks: the next step's input is typed by the children's outputs.
const typedParent = defineStepJob({ queue: "fo_typed", input: t.type({ a: t.number }), output: t.unknown });
export const typed = () =>
  Steps.of(typedParent)
    .step(async () => fanOut([child(double, { n: 1 }), child(shout, { word: "x" })]))
    .step(async ([n, word]) => {
      const _n: number = n;
      const _w: string = word;
      // @ts-expect-error a string is not a number
      const _bad: number = word;
      return done({ _n, _w, _bad });
    })
    .step(async () => fanOut([child(double, { n: 1 })], { onChildFailure: "continue" }))
    .step(async ([result]) => done(result?.ok === true ? result.output : result?.error));

void (undefined as unknown as JobOutcome<unknown>);
