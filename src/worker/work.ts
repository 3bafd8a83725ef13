import {
  EMPTY,
  Subject,
  concat,
  defer,
  exhaustMap,
  filter,
  finalize,
  from,
  ignoreElements,
  map,
  merge,
  mergeMap,
  share,
  take,
  takeUntil,
  tap,
  timer,
  type Observable,
  type SchedulerLike,
} from "rxjs";
import type { Outcome } from "../outcomes.ts";
import type { ClaimedRow } from "../db/claimQueries.ts";
import { claimRound, Waiting, type ClaimDeps, type ClaimRound } from "./claim.ts";
import { coalesceMap } from "./coalesce.ts";
import { Admissions } from "./admissions.ts";
import type { Completions } from "./completions.ts";
import { deadlinesOn } from "./deadlines.ts";
import { stopTask, type ExecuteDeps } from "./execute.ts";
import { fromTask } from "./fromTask.ts";
import { releaseTasks } from "./lease.ts";
import { LocalTasks, type HeldTask } from "./localTasks.ts";
import { runTask } from "./runTask.ts";
import { alongside, graceOver$ } from "./shutdown.ts";
import { throttle, type KeyOf } from "./throttle.ts";
import { upkeep$ } from "./upkeep.ts";
import { freedEnough$, wake$ } from "./wake.ts";
import type { ResolvedWorkOptions } from "./workOptions.ts";

/** The LISTEN side a worker uses. */
export interface WorkListener {
  channel$(channel: string): Observable<string>;
  ready(channel: string): Promise<void>;
  readonly reconnected$: Observable<void>;
}

/** Everything one worker's pipeline runs on. */
export interface WorkEnv<I, O> {
  /** What its attempts run on, less the timers and admissions each run makes for itself. */
  readonly execute: Omit<ExecuteDeps<I, O>, "completer" | "deadlines" | "admissions"> & {
    readonly completer: Completions;
  };
  readonly listener: WorkListener;
  readonly settings: ResolvedWorkOptions;
  readonly scheduler: SchedulerLike;
  readonly workerId: string;
  /** Its key in queue_waiter, unique per worker (workerId is the client's). */
  readonly waiterId: string;
  /** Asks the client's lease reaper to run while this worker does (see ../maintenance/reaper.ts). */
  readonly requestReaping: (intervalMs: number, scheduler: SchedulerLike) => () => void;
}

const keyOfTask: KeyOf<HeldTask> = {
  key: (task) => task.row.concurrency_key,
  limit: (task) => task.row.concurrency_limit,
};

/**
 * One worker of one queue as a cold Observable of its outcomes: wake →
 * claim → throttle (per key, then global) → execute and record, beside
 * lease renewal, prefetch expiry and cancellation. Subscribing runs it;
 * `stop$` emitting stops it gracefully: no more claims, unstarted tasks go
 * back to pending, running ones get `shutdownGraceMs` before their signal
 * fires; it completes once every result is written. Every timer runs on
 * `env.scheduler`, so the stream logic runs on virtual time in tests.
 */
export const work$ = <I, O>(env: WorkEnv<I, O>, stop$: Observable<unknown>): Observable<Outcome<O>> =>
  defer(() => {
    const { settings, scheduler, listener } = env;
    const now = () => scheduler.now();
    const tasks = new LocalTasks();
    const ended = new Subject<void>();
    const dueIn = new Subject<number>();
    const leases = new Subject<number>();
    let stopping = false;
    // When prefetched tasks were last given back unstarted, or a prefetched
    // keyed task found its key full: for a hold period after, claims take
    // only what can start at once (no hoarding, no keys bouncing).
    let expiredAt = Number.NEGATIVE_INFINITY;
    const { concurrency, prefetch } = settings;
    const prefetchNow = () => (now() - expiredAt > settings.prefetchHoldMs ? prefetch : 0);
    // Handler timeouts on one timer for this run (./deadlines.ts).
    const deadlines = deadlinesOn(scheduler);
    const execute = {
      ...env.execute,
      deadlines,
      // A key full in another process: prefetched keyed tasks would only
      // bounce between processes, so for a hold period claim only what can
      // start at once, as after an expiry.
      admissions: new Admissions(env.execute, () => (expiredAt = now())),
    };
    // Held tasks whose handler is done and whose verdict is being written:
    // they hold no slot, and leave once written.
    const writing = new Set<HeldTask>();
    const active = () => tasks.size - writing.size;
    // Room for running and prefetched tasks, not counting those being
    // written (a claim sent with their write replaces them); all held tasks
    // stay under twice that, should writes fall behind.
    const want = () => {
      const room = concurrency + prefetchNow();
      return Math.max(0, Math.min(room - active(), 2 * room - tasks.size));
    };
    // Slots no held task will take: keyed tasks claimed for these start at
    // once; the rest of a batch (prefetch) takes no key slot until it starts.
    const startable = () => Math.max(0, concurrency - active());
    const claimDeps: ClaimDeps = {
      sql: execute.sql,
      pool: execute.pool,
      queue: execute.queue,
      workerId: env.workerId,
      waiterId: env.waiterId,
      log: execute.log,
      pollIntervalMs: settings.pollIntervalMs,
      now,
      claimWith: (claim) => execute.completer.claimWith(claim),
      events: execute.events,
    };
    const waiting = new Waiting(claimDeps);
    const schema = execute.sql.schema;
    const stopped$ = stop$.pipe(
      take(1),
      tap(() => (stopping = true)),
      share(),
    );

    const accept = (round: ClaimRound): Observable<HeldTask> => {
      void round.dueIn?.then((ms) => {
        if (ms !== null) dueIn.next(ms);
      });
      // Part of the claim, which the stop waits for: the tasks are back
      // before the worker completes (and before the pool can be ended).
      if (stopping) return fromTask(() => releaseRows(round.rows)).pipe(ignoreElements());
      // Keyed tasks started at claim hold their key's slot: they go first,
      // into the free slots they were claimed for.
      const admittedFirst = [...round.rows].sort(
        (x, y) =>
          Number(y.admitted && y.concurrency_key !== null) - Number(x.admitted && x.concurrency_key !== null),
      );
      // One lease length per round: the tick follows the shortest.
      // (A loop, not Math.min(...rows): a claim may hold 100,000 rows.)
      if (admittedFirst.length > 0)
        leases.next(admittedFirst.reduce((shortest, row) => Math.min(shortest, row.heartbeat_ms), Infinity));
      return from(admittedFirst.map((row) => tasks.hold(row, now())));
    };
    const releaseRows = (rows: ReadonlyArray<ClaimedRow>) =>
      releaseTasks(
        execute,
        rows.map((row) => ({ row })),
      );

    const wakes$ = wake$(
      {
        notified$: listener.channel$(`${schema}.ready`).pipe(filter((name) => name === execute.queue)),
        listening: () => listener.ready(`${schema}.ready`),
        reconnected$: listener.reconnected$,
        dueIn$: dueIn,
        freed$: freedEnough$(
          ended,
          want,
          () => tasks.size,
          // Half of what the worker may hold now: during a prefetch hold
          // that is half of `concurrency`, or it would claim only once empty.
          () => Math.max(1, Math.floor((concurrency + prefetchNow()) / 2)),
        ),
        pollIntervalMs: settings.pollIntervalMs,
      },
      scheduler,
    ).pipe(takeUntil(stopped$));

    const claimed$ = concat(
      wakes$.pipe(
        coalesceMap(
          () =>
            defer(() =>
              want() > 0 ? fromTask(() => claimRound(claimDeps, waiting, want, startable)) : EMPTY,
            ),
          (round) => round.again,
        ),
        mergeMap(accept),
      ),
      // Stopped: unregister for NOTIFY, and give prefetched tasks back at once.
      defer(() => fromTask(() => waiting.unregister())),
      defer(() => fromTask(() => releaseTasks(execute, tasks.takeUnstarted()))),
    ).pipe(filter((item): item is HeldTask => item !== undefined));

    const outcomes$ = claimed$.pipe(
      throttle(
        keyOfTask,
        concurrency,
        (task) => runTask(execute, task, () => !stopping && tasks.holds(task)),
        {
          // The handler is done; its verdict is being written, and a claim
          // may ride with that write.
          handedOn: (task) => {
            writing.add(task);
            ended.next();
          },
          ended: (task) => {
            writing.delete(task);
            // One that never started (stopping) stays held, for the stop to
            // give back to pending with the other unstarted ones.
            if (task.started) tasks.forget(task);
            ended.next();
          },
        },
      ),
      filter((outcome): outcome is Outcome<O> => outcome !== undefined),
      // This worker wrote the retry, so it knows when it falls due.
      tap((outcome) => {
        if (outcome._tag === "retrying") dueIn.next(outcome.runAt.getTime() - now());
      }),
    );
    const main$ = concat(outcomes$, fromTask(() => execute.completer.idle()).pipe(ignoreElements()));

    // Lease renewals and cancel requests, as for runOnce and drain.
    const upkeep = upkeep$(
      { ...execute, listener, heartbeatTickMs: settings.heartbeatTickMs, scheduler },
      tasks,
      leases,
    );
    const holdMs = settings.prefetchHoldMs;
    const expire$ = timer(holdMs / 4, holdMs / 4, scheduler).pipe(
      map(() => tasks.takeUnstarted((task) => now() - task.claimedAt >= holdMs)),
      filter((given) => given.length > 0),
      tap(() => (expiredAt = now())),
      exhaustMap((given) => fromTask(() => releaseTasks(execute, given))),
    );
    const grace$ = graceOver$(stopped$, settings.shutdownGraceMs, scheduler).pipe(
      tap(() => {
        for (const task of tasks.all()) stopTask(task);
      }),
    );
    const reaping =
      settings.reapIntervalMs > 0 ? env.requestReaping(settings.reapIntervalMs, scheduler) : undefined;
    return alongside(main$, merge(upkeep, expire$, grace$)).pipe(
      finalize(() => {
        reaping?.();
        deadlines.close();
      }),
    );
  });
