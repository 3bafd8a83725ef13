import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { describe, it } from "node:test";
import * as t from "io-ts";
import {
  asyncScheduler,
  firstValueFrom,
  lastValueFrom,
  take,
  toArray,
  type SchedulerAction,
  type SchedulerLike,
} from "rxjs";
import {
  ConfigError,
  defineJob,
  defineStepJob,
  Steps,
  done,
  next,
  ValidationError,
  nextTick,
  runScheduler,
  schedule,
  unschedule,
  type TickEvent,
} from "../src/index.ts";
import { eventually, useDatabase } from "./support/harness.ts";

const Input = t.type({ n: t.number });

/** A clock that starts at `startAt` and runs at real speed; timers stay real. */
const clockFrom = (startAt: number): SchedulerLike => {
  const realStart = Date.now();
  return {
    now: () => startAt + (Date.now() - realStart),
    schedule: <T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T) =>
      asyncScheduler.schedule(work, delay, state),
  };
};

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe("schedules", () => {
  const { db, connect } = useDatabase("schedule");

  const tasksOf = async (queue: string) => {
    const { rows } = await db().pool.query<{ id: string; n: number }>(
      "select id::text, (input->>'n')::int as n from underway.task_all where queue_name = $1 order by id",
      [queue],
    );
    return rows;
  };
  const ticksOf = async (queue: string) => {
    const { rows } = await db().pool.query<{ tick_at: Date; task_id: string | null }>(
      "select tick_at, task_id::text from underway.schedule_tick where queue_name = $1 order by tick_at",
      [queue],
    );
    return rows;
  };
  const updatedAt = async (queue: string): Promise<number> => {
    const { rows } = await db().pool.query<{ updated_at: Date }>(
      "select updated_at from underway.schedule where queue_name = $1",
      [queue],
    );
    return rows[0]!.updated_at.getTime();
  };

  it("validates the input through the queue's codec and the expression, storing nothing if either is bad", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "bad-schedule", input: Input }));
    await assert.rejects(
      schedule(job, "* * * * * *[UTC]", { n: "1" } as unknown as { n: number }),
      (error: unknown) => error instanceof ValidationError && /n: expected number/.test(error.message),
    );
    await assert.rejects(schedule(job, "* * * * * *[Nowhere/Town]", { n: 1 }), ConfigError);
    const { rows } = await db().pool.query(
      "select 1 from underway.schedule where queue_name = 'bad-schedule'",
    );
    assert.equal(rows.length, 0);
    assert.equal(await unschedule(job), false);
  });

  it("enqueues exactly one task per tick across 3 clients and a child process, while two of them stop", async () => {
    const queue = "every-second";
    const clients = await Promise.all([connect(), connect(), connect()]);
    const everySecond = defineJob({ queue, input: Input });
    const jobs = clients.map((underway) => underway.job(everySecond));
    await schedule(jobs[0]!, "* * * * * *[UTC]", { n: 7 });

    const child: ChildProcess = spawn(
      process.execPath,
      ["--import", "tsx", "test/support/schedulerProcess.ts"],
      {
        env: { ...process.env, DATABASE_URL: db().url, QUEUE: queue },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const childTicks: string[] = [];
    let childReady = false;
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      for (const line of chunk.split("\n")) {
        if (line === "ready") childReady = true;
        if (line.startsWith("tick ")) childTicks.push(line.slice(5));
      }
    });
    try {
      await eventually(() => childReady, 20_000, "the child scheduler to start");
      // The child runs alone first, then all four race for each tick.
      await eventually(() => childTicks.length > 0, 5_000, "the child to enqueue a tick");
      const schedulers = jobs.map((job) => runScheduler(job));
      const seen: TickEvent[][] = schedulers.map(() => []);
      schedulers.forEach((scheduler, index) => scheduler.ticks$.subscribe((tick) => seen[index]!.push(tick)));

      await sleep(2_000);
      child.kill("SIGKILL"); // a crash, possibly in the middle of a tick
      await schedulers[0]!.stop(); // a graceful stop
      await sleep(2_200);
      await Promise.all(schedulers.slice(1).map((scheduler) => scheduler.stop()));

      const ticks = await ticksOf(queue);
      const tasks = await tasksOf(queue);
      assert.ok(ticks.length >= 4, `expected at least 4 ticks in ~4 s, got ${ticks.length}`);
      assert.equal(tasks.length, ticks.length, "one task per tick");
      assert.deepEqual(
        ticks.map((tick) => tick.task_id),
        tasks.map((task) => task.id),
        "each tick recorded its own task",
      );
      assert.ok(tasks.every((task) => task.n === 7));
      // No tick was missed while any scheduler ran.
      ticks
        .slice(1)
        .forEach((tick, index) =>
          assert.equal(tick.tick_at.getTime() - ticks[index]!.tick_at.getTime(), 1_000),
        );
      // Each tick was reported by the one scheduler that enqueued it.
      const reported = [...seen.flat().map((tick) => tick.tickAt.toISOString()), ...childTicks].sort();
      assert.equal(new Set(reported).size, reported.length, "no tick reported twice");
      const all = new Set(ticks.map((tick) => tick.tick_at.toISOString()));
      assert.ok(reported.every((tick) => all.has(tick)));
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("picks up a changed schedule at once, without a restart, and stops on unschedule", async () => {
    const underway = await connect();
    const queue = "changing";
    const job = underway.job(defineJob({ queue, input: Input }));
    await schedule(job, "0 0 0 1 1 *[UTC]", { n: 1 }); // once a year: nothing during the test
    // No periodic re-read during the test: only the NOTIFY can tell it.
    const scheduler = runScheduler(job, { refreshIntervalMs: 600_000 });
    await sleep(300);
    assert.equal((await tasksOf(queue)).length, 0);

    await schedule(job, "* * * * * *[UTC]", { n: 2 });
    await eventually(
      async () => (await tasksOf(queue)).some((task) => task.n === 2),
      3_000,
      "the new expression",
    );
    await schedule(job, "* * * * * *[UTC]", { n: 3 });
    await eventually(async () => (await tasksOf(queue)).some((task) => task.n === 3), 3_000, "the new input");

    assert.equal(await unschedule(job), true);
    await sleep(300); // a tick already being written may still commit
    const after = (await tasksOf(queue)).length;
    await sleep(1_500);
    assert.equal((await tasksOf(queue)).length, after, "no task after unschedule");
    await scheduler.stop();
  });

  it("schedules multi-step jobs: each tick starts a run with its own job id, which runs to the end", async () => {
    const underway = await connect();
    const queue = "scheduled-steps";
    const scheduledSteps = defineStepJob({ queue, input: Input, output: t.number });
    const steps = Steps.of(scheduledSteps)
      .step(async ({ n }) => next({ doubled: n * 2 }))
      .step(async ({ doubled }) => done(doubled + 1));
    const job = underway.job(scheduledSteps);
    await schedule(job, "* * * * * *[UTC]", { n: 20 });
    const scheduler = runScheduler(job);
    const worker = job.start(steps);
    const ticks = await firstValueFrom(scheduler.ticks$.pipe(take(2), toArray()));
    await scheduler.stop();
    const runs = await Promise.all(
      ticks.map(async (tick) => {
        const { rows } = await db().pool.query<{ job_id: string }>(
          "select job_id::text from underway.task_all where id = $1 and step_index = 0",
          [tick.taskId],
        );
        return rows[0]!.job_id;
      }),
    );
    assert.equal(new Set(runs).size, 2, "a job id per run");
    assert.deepEqual(await Promise.all(runs.map((jobId) => job.result(jobId))), [41, 41]);
    await worker.stop();
  });

  it("stops its schedulers on underway.close(), completing their tick streams", async () => {
    const underway = await connect();
    const queue = "closing";
    const job = underway.job(defineJob({ queue, input: Input }));
    await schedule(job, "* * * * * *[UTC]", { n: 1 });
    assert.throws(() => runScheduler(job, { maxCatchUp: 0 }), ConfigError);
    const scheduler = runScheduler(job);
    const ticks = lastValueFrom(scheduler.ticks$.pipe(toArray()));
    await eventually(async () => (await tasksOf(queue)).length > 0, 3_000, "a first tick");
    await underway.close();
    assert.ok((await ticks).length > 0);
    const after = (await tasksOf(queue)).length;
    await sleep(1_200);
    assert.equal((await tasksOf(queue)).length, after);
  });

  it("skips ticks missed while no scheduler ran, by default", async () => {
    const underway = await connect();
    const queue = "skipping";
    const job = underway.job(defineJob({ queue, input: Input }));
    const spec = await schedule(job, "0 * * * * *[UTC]", { n: 1 }); // every minute
    const first = nextTick(spec, new Date(await updatedAt(queue)))!.getTime();
    // The scheduler starts 10 minutes (10 ticks) later, 200 ms before the 11th tick.
    const eleventh = first + 10 * 60_000;
    const scheduler = runScheduler(job, { scheduler: clockFrom(eleventh - 200) });
    const [tick] = await firstValueFrom(scheduler.ticks$.pipe(take(1), toArray()));
    assert.equal(tick?.tickAt.getTime(), eleventh);
    await scheduler.stop();
    const ticks = await ticksOf(queue);
    assert.deepEqual(
      ticks.map((row) => row.tick_at.getTime()),
      [eleventh],
    );
    assert.equal((await tasksOf(queue)).length, 1);
  });

  it("with catchUp, enqueues the missed ticks (the latest maxCatchUp), then resumes after the last one", async () => {
    const underway = await connect();
    const queue = "catching-up";
    const job = underway.job(defineJob({ queue, input: Input }));
    const spec = await schedule(job, "0 * * * * *[UTC]", { n: 1 }, { catchUp: true });
    const first = nextTick(spec, new Date(await updatedAt(queue)))!.getTime();
    const minute = (k: number) => first + (k - 1) * 60_000; // the k-th tick after the schedule was set

    // 11 ticks were missed; at most 5 are caught up: the latest.
    const bounded = runScheduler(job, { scheduler: clockFrom(minute(11) + 30_000), maxCatchUp: 5 });
    const caught = await firstValueFrom(bounded.ticks$.pipe(take(5), toArray()));
    await bounded.stop();
    const expected = [7, 8, 9, 10, 11].map(minute);
    assert.deepEqual(
      caught.map((tick) => tick.tickAt.getTime()),
      expected,
    );

    // Later, a new scheduler resumes after the last tick enqueued.
    const resumed = runScheduler(job, { scheduler: clockFrom(minute(14) + 30_000) });
    const more = await firstValueFrom(resumed.ticks$.pipe(take(3), toArray()));
    await resumed.stop();
    assert.deepEqual(
      more.map((tick) => tick.tickAt.getTime()),
      [12, 13, 14].map(minute),
    );
    const ticks = await ticksOf(queue);
    assert.deepEqual(
      ticks.map((row) => row.tick_at.getTime()),
      [7, 8, 9, 10, 11, 12, 13, 14].map(minute),
    );
    assert.equal((await tasksOf(queue)).length, 8);
  });
});
