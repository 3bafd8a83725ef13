import { performance } from "node:perf_hooks";
import type { BenchSystem } from "./system.ts";

/** A drain that runs no handler for this long has stalled: fail rather than hang the run. */
const stallMs = 60_000;
/** A drain that still progresses but this slowly is not worth waiting for either. */
const limitMs = 15 * 60_000;

export interface DrainResult {
  readonly tasksPerSecond: number;
  readonly seconds: number;
}

/**
 * Starts the system's worker on a queue holding `n` tasks and resolves once
 * `n` handlers have run, then stops the worker. The clock runs from the call
 * that starts the worker to the last handler. Starting at the first handler
 * instead would leave out the first fetch, which with a large prefetch (500
 * for tuned graphile-worker) is most of the work of a small drain; the price
 * is that worker start-up (tens of ms) is counted, so sizes should keep a
 * drain to seconds. Shutdown is not counted. `onProgress` is called with the
 * count after every handler.
 */
export const drain = async (
  system: BenchSystem,
  n: number,
  concurrency: number,
  onProgress?: (done: number) => void,
): Promise<DrainResult> => {
  let done = 0;
  let last = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const first = performance.now();
  const worker = await system.startWorker(concurrency, () => {
    last = performance.now();
    done += 1;
    onProgress?.(done);
    if (done === n) finish();
  });
  let seen = -1;
  let watchdog: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, fail) => {
    watchdog = setInterval(() => {
      if (done === seen) fail(new Error(`${system.name}: drain stalled at ${done}/${n} tasks`));
      else if (performance.now() - first > limitMs) {
        fail(new Error(`${system.name}: drain still at ${done}/${n} tasks after ${limitMs / 60_000} min`));
      }
      seen = done;
    }, stallMs);
  });
  try {
    await Promise.race([finished, stalled]);
  } finally {
    clearInterval(watchdog);
    await worker.stop();
  }
  const seconds = (last - first) / 1000;
  return { tasksPerSecond: seconds > 0 ? n / seconds : Number.POSITIVE_INFINITY, seconds };
};
