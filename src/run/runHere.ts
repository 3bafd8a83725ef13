import { hostname } from "node:os";
import { asyncScheduler } from "rxjs";
import { checkOptionShape, type OptionShape } from "../optionShape.ts";
import type { Outcome } from "../outcomes.ts";
import type { WorkerStarterDeps } from "../client/clientDeps.ts";
import { checkPoolSize } from "../worker/poolSize.ts";
import {
  drain,
  runOne,
  type DrainOptions,
  type DrainResult,
  type RunOnceDeps,
  type RunOnceOptions,
} from "../worker/runOnce.ts";
import { workOptionShape } from "../worker/workOptions.ts";
import {
  defineRateLimitQuietly,
  executeDeps,
  registerQuietly,
  type RunTarget,
  type TaskRunner,
} from "./taskRunner.ts";

// How long close() lets a runOnce/drain handler finish, as a worker's default shutdownGraceMs.
const runHereGraceMs = 30_000;

const runOnceShape: OptionShape = { signal: "AbortSignal", stopClaiming: "AbortSignal" };
const drainShape: OptionShape = {
  ...runOnceShape,
  until: { oneOf: ["empty"] },
  concurrency: workOptionShape["concurrency"] ?? "integer",
};

/** Claims at most one due task and runs it here; `undefined` when none was due (or its result was lost). */
export const runOnceHere = async <V, O>(
  client: WorkerStarterDeps,
  target: RunTarget,
  runner: TaskRunner<V, O>,
  options: RunOnceOptions,
): Promise<Outcome<O> | undefined> => {
  checkOptionShape("runOnce options", options, runOnceShape);
  const one = await runHere(client, target, runner, 1, options.signal, (deps, control) =>
    runOne(deps, { ...options, ...control }),
  );
  return one.claimed ? one.outcome : undefined;
};

/** Runs due tasks here until none is due. */
export const drainHere = async <V, O>(
  client: WorkerStarterDeps,
  target: RunTarget,
  runner: TaskRunner<V, O>,
  options: DrainOptions,
): Promise<DrainResult> => {
  checkOptionShape("drain options", options, drainShape);
  const concurrency = options.concurrency ?? 1;
  return runHere(client, target, runner, concurrency, options.signal, (deps, control) =>
    drain(deps, { ...options, ...control, concurrency }),
  );
};

/**
 * Runs `run` in this process as a worker would. `close()` stops it as it
 * stops a worker: no new claims at once, running handlers get the grace
 * period (30 s), then their signal fires.
 */
const runHere = async <V, O, A>(
  client: WorkerStarterDeps,
  target: RunTarget,
  runner: TaskRunner<V, O>,
  concurrency: number,
  signal: AbortSignal | undefined,
  run: (
    deps: RunOnceDeps<V, O>,
    control: { readonly signal: AbortSignal; readonly stopClaiming: AbortSignal },
  ) => Promise<A>,
): Promise<A> => {
  client.assertOpen();
  const deps = {
    ...executeDeps(client, target, runner),
    workerId: `${hostname()}:${process.pid}:once`,
    scheduler: asyncScheduler,
  };
  if (runner.transactional !== undefined)
    checkPoolSize(client.pool, concurrency, `runOnce/drain on queue ${target.queue}`);
  registerQuietly(client, target);
  const stopClaiming = new AbortController();
  const abort = new AbortController();
  // The definition's rate limit holds for runOnce and drain as for a
  // worker, even where no worker of the queue ever started: recorded before
  // the first claim (one statement, which writes only when it changed).
  // Chained, not awaited before: the run is tracked at once, so a close()
  // meanwhile stops it before it claims.
  const running = defineRateLimitQuietly(client, target).then(() =>
    run(deps, {
      signal: signal === undefined ? abort.signal : AbortSignal.any([signal, abort.signal]),
      stopClaiming: stopClaiming.signal,
    }),
  );
  const untrack = client.track({
    stop: async () => {
      stopClaiming.abort();
      const grace = setTimeout(() => abort.abort(), runHereGraceMs);
      await running.then(
        () => undefined,
        () => undefined,
      );
      clearTimeout(grace);
    },
  });
  try {
    return await running;
  } finally {
    untrack();
  }
};
