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
  parseSchedule,
  runScheduler,
  schedule,
  ticksBetween,
  unschedule,
  type TickEvent,
} from "../src/index.ts";
import { eventually, useDatabase } from "./support/harness.ts";

const Input = t.type({ n: t.number });

/** Wall-clock time of an instant in a zone, "HH:MM" (24 h). */
const localTime = (instant: Date, timeZone: string): string =>
  new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(
    instant,
  );

/** Ticks of one local calendar day, given its first and the next day's first instant (UTC). */
const ticksOfDay = (text: string, dayStart: string, nextDayStart: string): Date[] =>
  ticksBetween(
    parseSchedule(text),
    new Date(new Date(dayStart).getTime() - 1),
    new Date(new Date(nextDayStart).getTime() - 1),
  );

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

describe("schedule expressions", () => {
  it("rejects invalid expressions and unknown zones with a ConfigError naming the problem", () => {
    const cases: Array<[string, RegExp]> = [
      ["0 * * * * *", /expected "<cron expression>\[<IANA time zone>\]"/],
      ["0 * * * * *[]", /unknown time zone ""/],
      ["0 * * * * *[Mars/Olympus_Mons]", /unknown time zone "Mars\/Olympus_Mons"/],
      ["0 * * * * *[+02:00]", /unknown time zone "\+02:00"/],
      ["61 * * * *[UTC]", /cron expression "61 \* \* \* \*" is invalid: .*minute/],
      ["* * *[UTC]", /cron expression "\* \* \*" is invalid/],
      ["0 0 0 1 1 * 2030[UTC]", /is invalid: .*5 or 6 parts/],
      ["@sometimes[UTC]", /cron expression "@sometimes" is invalid/],
      ["0 0 0 30 2 *[UTC]", /never fires/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parseSchedule(text),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, `${text}: ${String(error)}`);
          assert.match(error.message, message, text);
          return true;
        },
      );
    }
  });

  it("accepts 5- and 6-field forms and nicknames, in IANA zones", () => {
    const after = new Date("2024-06-01T00:00:00Z");
    const at = (text: string) => nextTick(parseSchedule(text), after)?.toISOString();
    assert.equal(at("0 */15 * * * *[America/Los_Angeles]"), "2024-06-01T00:15:00.000Z");
    assert.equal(at("30 2 * * *[Europe/Berlin]"), "2024-06-01T00:30:00.000Z");
    assert.equal(at("0 30 2 * * *[Europe/Berlin]"), "2024-06-01T00:30:00.000Z");
    assert.equal(at("@daily[Europe/Berlin]"), "2024-06-01T22:00:00.000Z");
    assert.equal(at("  @hourly [UTC] "), "2024-06-01T01:00:00.000Z");
  });

  // America/New_York, 2024: clocks jump 02:00 -> 03:00 on March 10 and fall
  // back 02:00 -> 01:00 on November 3. A local day there lasts 23 h and 25 h.
  const springDay = ["2024-03-10T05:00:00Z", "2024-03-11T04:00:00Z"] as const;
  const fallDay = ["2024-11-03T04:00:00Z", "2024-11-04T05:00:00Z"] as const;
  const plainDay = ["2024-06-01T04:00:00Z", "2024-06-02T04:00:00Z"] as const;
  const ny = "America/New_York";

  it("fires a daily time in the skipped hour once, just after the jump", () => {
    const ticks = ticksOfDay(`0 30 2 * * *[${ny}]`, ...springDay);
    assert.deepEqual(
      ticks.map((tick) => tick.toISOString()),
      ["2024-03-10T07:00:00.000Z"],
    );
    assert.equal(localTime(ticks[0]!, ny), "03:00");
    assert.equal(ticksOfDay(`0 30 2 * * *[${ny}]`, ...plainDay).length, 1);
  });

  it("fires a daily time in the repeated hour once, at its first occurrence", () => {
    const ticks = ticksOfDay(`0 30 1 * * *[${ny}]`, ...fallDay);
    assert.deepEqual(
      ticks.map((tick) => tick.toISOString()),
      ["2024-11-03T05:30:00.000Z"], // 01:30 EDT, not 01:30 EST an hour later
    );
    assert.equal(ticksOfDay(`0 30 2 * * *[${ny}]`, ...fallDay).length, 1);
    assert.equal(ticksOfDay(`30 1 * * *[${ny}]`, ...fallDay).length, 1, "5-field form alike");
  });

  it("fires an hourly schedule 23, 24 and 25 times on the short, plain and long days", () => {
    const hourly = `0 0 * * * *[${ny}]`;
    const spring = ticksOfDay(hourly, ...springDay);
    const fall = ticksOfDay(hourly, ...fallDay);
    assert.equal(spring.length, 23);
    assert.equal(ticksOfDay(hourly, ...plainDay).length, 24);
    assert.equal(fall.length, 25);
    // As the zone's clock reads: no 02:00 in spring, 01:00 twice in the fall.
    const hours = (ticks: Date[]) => ticks.map((tick) => localTime(tick, ny).slice(0, 2)).join(" ");
    assert.equal(hours(spring), "00 01 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23");
    assert.equal(hours(fall), "00 01 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23");
    // Real time between ticks stays one hour through both transitions.
    for (const ticks of [spring, fall]) {
      ticks
        .slice(1)
        .forEach((tick, index) => assert.equal(tick.getTime() - ticks[index]!.getTime(), 3_600_000));
    }
  });

  it("agrees with itself: stepping nextTick gives the same ticks as ticksBetween", () => {
    for (const text of [`0 0 * * * *[${ny}]`, `0 30 1 * * *[${ny}]`, "0 */15 * * * *[America/Los_Angeles]"]) {
      const spec = parseSchedule(text);
      const from = new Date("2024-11-02T00:00:00Z");
      const to = new Date("2024-11-05T00:00:00Z");
      const stepped: string[] = [];
      for (let tick = nextTick(spec, from); tick !== null && tick <= to; tick = nextTick(spec, tick)) {
        stepped.push(tick.toISOString());
      }
      assert.deepEqual(
        ticksBetween(spec, from, to).map((tick) => tick.toISOString()),
        stepped,
        text,
      );
    }
    // Every 15 minutes in Los Angeles: 92 ticks on its short day, 100 on its long one.
    const la = "0 */15 * * * *[America/Los_Angeles]";
    assert.equal(ticksOfDay(la, "2024-03-10T08:00:00Z", "2024-03-11T07:00:00Z").length, 92);
    assert.equal(ticksOfDay(la, "2024-11-03T07:00:00Z", "2024-11-04T08:00:00Z").length, 100);
    // @daily in Berlin: midnight to midnight is 23 h across the spring change, 25 h across the fall one.
    const daily = parseSchedule("@daily[Europe/Berlin]");
    const gap = (after: string) => {
      const first = nextTick(daily, new Date(after))!;
      return (nextTick(daily, first)!.getTime() - first.getTime()) / 3_600_000;
    };
    assert.equal(gap("2024-03-30T12:00:00Z"), 23);
    assert.equal(gap("2024-10-26T12:00:00Z"), 25);
  });
});

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
