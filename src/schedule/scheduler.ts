import { Observable, Subject, filter } from "rxjs";
import { depsOf } from "../client/clientDeps.ts";
import type { Schedulable } from "./schedule.ts";
import { SchedulerRun } from "./schedulerRun.ts";
import type { SchedulerOptions, TickEvent } from "./schedulerOptions.ts";

// What a scheduler takes and reports, exported with it (src/index.ts takes them from here).
export type { SchedulerOptions, TickEvent } from "./schedulerOptions.ts";

/** A running scheduler: its tick stream and a stop that waits for a tick being written. */
export interface Scheduler {
  /** Ticks this scheduler enqueued. Hot. */
  readonly ticks$: Observable<TickEvent>;
  /** Stops ticking; resolves once a tick being written is committed or rolled back. `ticks$` then completes. */
  stop(): Promise<void>;
}

/**
 * Starts a scheduler for the job's queue: it enqueues one task per tick of
 * the queue's schedule (see `schedule`). Run one in every process you like:
 * each tick is enqueued exactly once among them, and any of them may die.
 * `underway.close()` stops it too.
 *
 * @example
 * await schedule(job, "0 *\/15 * * * *[America/Los_Angeles]", { report: "sales" });
 * const scheduler = runScheduler(job);
 * scheduler.ticks$.subscribe(({ tickAt, taskId }) => console.log(tickAt, taskId));
 * await scheduler.stop();
 */
export const runScheduler = <In, V>(job: Schedulable<In, V>, options: SchedulerOptions = {}): Scheduler => {
  const deps = depsOf(job.underway);
  const run = new SchedulerRun(deps, job, options);
  const ticks = new Subject<TickEvent>();
  let stopping: Promise<void> | undefined;
  const scheduler: Scheduler = {
    ticks$: ticks.asObservable(),
    stop: () => {
      stopping ??= run.stop().finally(() => {
        shutdown.unsubscribe();
        untrack();
        ticks.complete();
      });
      return stopping;
    },
  };
  const untrack = deps.track(scheduler);
  // `underway.shutdownQueue(queue)` stops the queue's schedulers in every
  // process, as it stops its workers.
  const { listener, schema } = deps;
  const shutdown = listener
    .channel$(`${schema}.shutdown`)
    .pipe(filter((name) => name === job.queue))
    .subscribe(() => void scheduler.stop());
  run.start((event) => ticks.next(event));
  return scheduler;
};

/**
 * A scheduler as an Observable of the ticks it enqueued: subscribing runs
 * it, unsubscribing stops it.
 *
 * @example
 * const subscription = scheduler$(job).subscribe((tick) => console.log(tick.tickAt));
 */
export const scheduler$ = <In, V>(
  job: Schedulable<In, V>,
  options: SchedulerOptions = {},
): Observable<TickEvent> =>
  new Observable<TickEvent>((subscriber) => {
    const scheduler = runScheduler(job, options);
    const sub = scheduler.ticks$.subscribe(subscriber);
    return () => {
      sub.unsubscribe();
      void scheduler.stop();
    };
  });
