import { Observable, filter, share } from "rxjs";
import { guarded } from "../guarded.ts";
import type { Outcome } from "../outcomes.ts";
import type { WorkerStarterDeps } from "../client/clientDeps.ts";
import { checkPoolSize, transactionalConcurrency } from "../worker/poolSize.ts";
import { WorkerRun, type WorkOptions } from "../worker/worker.ts";
import { checkWorkOptions } from "../worker/workOptions.ts";
import {
  defineRateLimitQuietly,
  executeDeps,
  registerQuietly,
  type RunTarget,
  type TaskRunner,
} from "./taskRunner.ts";

/**
 * A started worker: its outcome stream and a graceful stop. `E` is what
 * `outcomes$` emits: a task's `Outcome<O>` for a job, a run's `JobOutcome<O>`
 * for a multi-step job (the same type as its handle's `outcomes$`).
 */
export interface Worker<O, E = Outcome<O>> {
  /**
   * Outcomes of the tasks this worker ran; it completes when the worker has
   * stopped (by `stop()`, `close()` or `shutdownQueue`). A subscriber's
   * callback that throws is logged at error level and ignored: the worker
   * keeps running.
   */
  readonly outcomes$: Observable<E>;
  /** Stops claiming, lets in-flight tasks finish (up to the grace period), resolves when all is written. */
  stop(): Promise<void>;
}

/**
 * Starts a worker running `runner`'s tasks of `target`'s queue; the client
 * tracks it (`close()` stops it) and `shutdownQueue` stops it from any
 * process. Bad options, or a closed client, throw here, synchronously.
 */
export const startWorker = <V, O>(
  client: WorkerStarterDeps,
  target: RunTarget,
  runner: TaskRunner<V, O>,
  given: WorkOptions,
): Worker<O> => {
  const checked = checkWorkOptions(given);
  client.assertOpen();
  const deps = executeDeps(client, target, runner);
  const { queue } = target;
  let options = given;
  if (runner.transactional !== undefined) {
    const { pool } = client;
    const concurrency = transactionalConcurrency(pool, given.concurrency, checked.concurrency);
    checkPoolSize(pool, concurrency, `the worker of queue ${queue}`);
    options = { ...given, concurrency };
  }
  registerQuietly(client, target);
  // Before the first claim: a fresh queue's first tasks must not start unlimited.
  const prepared = defineRateLimitQuietly(client, target);
  let stop: () => Promise<void> = async () => undefined;
  const outcomes$ = new Observable<Outcome<O>>((subscriber) => {
    // Throughput counts come from the lifecycle report (src/events), which runOnce and drain share.
    const run = new WorkerRun<V, O>(client.workerRegistry.id, { ...deps, prepared }, options, (outcome) =>
      subscriber.next(outcome),
    );
    // The client's close() goes through the same stop as stop() does, so
    // outcomes$ completes whichever way the worker ends.
    const untrack = client.track({ stop: () => stop() });
    const unregister = client.workerRegistry.add(queue, options.concurrency ?? checked.concurrency);
    run.start();
    const { listener, schema } = client;
    const broadcast = listener
      .channel$(`${schema}.shutdown`)
      .pipe(filter((name) => name === queue))
      .subscribe(() => void stop());
    stop = () =>
      run.stop().finally(() => {
        broadcast.unsubscribe();
        unregister();
        untrack();
        subscriber.complete();
      });
    return () => void stop();
  }).pipe(share());
  const keepAlive = outcomes$.subscribe();
  return {
    // The worker's own subscription (keepAlive) is not guarded: it has no callbacks.
    outcomes$: guarded(outcomes$, client.log, `the outcomes$ of a worker of queue ${queue}`),
    stop: async () => {
      await stop();
      keepAlive.unsubscribe();
    },
  };
};

/**
 * A worker as an Observable of its outcomes: subscribing starts one,
 * unsubscribing stops it gracefully. Options and the client are checked
 * here, synchronously; `start` checks the rest when subscribed.
 */
export const workerOutcomes$ = <O, E = Outcome<O>>(
  client: Pick<WorkerStarterDeps, "assertOpen" | "log">,
  options: WorkOptions,
  start: () => Worker<O, E>,
): Observable<E> => {
  checkWorkOptions(options);
  client.assertOpen();
  return guarded(
    new Observable<E>((subscriber) => {
      const worker = start();
      const sub = worker.outcomes$.subscribe(subscriber);
      return () => {
        sub.unsubscribe();
        void worker.stop();
      };
    }),
    client.log,
    "a work() stream",
  );
};
