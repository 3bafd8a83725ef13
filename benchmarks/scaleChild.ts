/**
 * One worker process of `npm run bench:scale`: runs no-op handlers on the
 * bench queue and prints, every 100 ms while it works, a JSON line with how
 * many handlers it ran so far and when the last one ran (epoch ms, so the
 * parent can compare processes). Prints {"ready":true} once claiming; exits
 * on SIGTERM after a graceful close.
 */
import * as t from "io-ts";
import { builtUnderway } from "./builtUnderway.ts";

interface Config {
  readonly url: string;
  /** A direct URL for LISTEN, when `url` goes through PgBouncer. */
  readonly listenerUrl?: string;
  readonly preparedStatements: boolean;
  readonly schema: string;
  readonly queue: string;
  readonly concurrency: number;
  readonly prefetch?: number;
}

const config = JSON.parse(process.argv[2] ?? "{}") as Config;
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const { Underway, defineJob, silentLogger } = await builtUnderway();
const underway = await Underway.connect({
  connectionString: config.url,
  schema: config.schema,
  migrate: false,
  logger: silentLogger,
  preparedStatements: config.preparedStatements,
  ...(config.listenerUrl === undefined ? {} : { listener: { connectionString: config.listenerUrl } }),
});
const job = underway.job(defineJob({ queue: config.queue, input: t.type({ i: t.number }) }));
let count = 0;
let last = 0;
const worker = job.start(
  async () => {
    count += 1;
    last = Date.now();
    return null;
  },
  {
    concurrency: config.concurrency,
    ...(config.prefetch === undefined ? {} : { prefetch: config.prefetch }),
  },
);
await underway.listening();
print({ ready: true });
let printed = -1;
const report = setInterval(() => {
  if (count === printed) return;
  printed = count;
  print({ count, last });
}, 100);
process.once("SIGTERM", () => {
  clearInterval(report);
  void worker
    .stop()
    .then(() => underway.close())
    .then(() => process.exit(0));
});
