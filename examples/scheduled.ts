// A cron schedule in a time zone: one task per tick, however many processes
// run a scheduler. Ticks every second here, so the example ends quickly.
// Run: `npx tsx examples/scheduled.ts`
import * as t from "io-ts";
import { filter, take, firstValueFrom, toArray } from "rxjs";
import { Underway, defineJob, runScheduler, schedule, unschedule } from "../src/index.ts";
import { devDatabase } from "../test/support/devDatabase.ts";

const database = await devDatabase();
const underway = await Underway.connect({ connectionString: database.url });
const job = underway.job(defineJob({ queue: "heartbeat_report", input: t.type({ region: t.string }) }));

// Every second, read on Los Angeles time (6 fields: seconds first).
await schedule(job, "* * * * * *[America/Los_Angeles]", { region: "west" });

// Two schedulers, as if in two processes: each tick is still enqueued once.
const schedulers = [runScheduler(job), runScheduler(job)];
const results = firstValueFrom(
  job
    .work(async ({ region }) => `${region} report at ${new Date().toISOString()}`)
    .pipe(
      filter((outcome) => outcome._tag === "succeeded"),
      take(3),
      toArray(),
    ),
);
for (const outcome of await results) {
  if (outcome._tag === "succeeded") console.log(outcome.output);
}

await unschedule(job);
await Promise.all(schedulers.map((scheduler) => scheduler.stop()));
// Each tick row names the one task enqueued for it.
const { rows } = await underway.pool.query<{ n: number; ticks: number }>(
  `select (select count(*)::int from underway.task_all) as n,
          (select count(distinct task_id)::int from underway.schedule_tick) as ticks`,
);
console.log(`${rows[0]?.n} tasks for ${rows[0]?.ticks} distinct ticks`);
await underway.close();
await database.stop();
process.exit(rows[0]?.n === rows[0]?.ticks ? 0 : 1);
