// A scheduler in a process of its own, for tests of several processes on one
// schedule. Env: DATABASE_URL, QUEUE. Prints "ready", then one line per
// tick it enqueued; SIGTERM closes it gracefully (SIGKILL is the crash case).
import * as t from "io-ts";
import { defineJob, Underway, runScheduler, silentLogger } from "../../src/index.ts";

const url = process.env["DATABASE_URL"];
const queueName = process.env["QUEUE"];
if (url === undefined || queueName === undefined) throw new Error("DATABASE_URL and QUEUE are required");

const underway = await Underway.connect({ connectionString: url, logger: silentLogger });
// A scheduler only enqueues: it needs the definition, not a handler.
const job = underway.job(defineJob({ queue: queueName, input: t.type({ n: t.number }) }));
const scheduler = runScheduler(job);
scheduler.ticks$.subscribe((tick) => process.stdout.write(`tick ${tick.tickAt.toISOString()}\n`));
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void underway.close().then(() => process.exit(0));
});
