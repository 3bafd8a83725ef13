import {
  Subject,
  defer,
  filter,
  finalize,
  from,
  ignoreElements,
  map,
  merge,
  mergeMap,
  take,
  takeWhile,
  tap,
  timer,
  type Observable,
  type SchedulerLike,
} from "rxjs";
import type { Outcome } from "../outcomes.ts";
import type { ClaimedRow } from "../db/claimQueries.ts";
import { claimRoute, type ClaimDeps } from "./claim.ts";
import type { Completions } from "./completions.ts";
import { Admissions } from "./admissions.ts";
import { deadlinesOn } from "./deadlines.ts";
import type { ExecuteDeps } from "./execute.ts";
import { LocalTasks, type HeldTask } from "./localTasks.ts";
import { runTask } from "./runTask.ts";
import { alongside, graceOver$ } from "./shutdown.ts";
import { throttle, type KeyOf } from "./throttle.ts";
import { upkeep$ } from "./upkeep.ts";
import { freedEnough$, wake$ } from "./wake.ts";
import { workerLoop } from "./workerLoop.ts";
import { runEffect, type LoopEffect, type LoopEvent } from "./runEffect.ts";
import { freedThreshold, heedsWake, isRunning, startableOf, wantOf } from "./workerState.ts";
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
  /** Settles once the worker may claim: the first claim waits for it, as for LISTEN. */
  readonly prepared: Promise<void>;
}

const keyOfTask: KeyOf<HeldTask> = {
  key: (task) => task.row.concurrencyKey,
  limit: (task) => task.row.concurrencyLimit,
};

// Keyed tasks started at claim hold their key's slot, and tasks of a
// rate-limited queue started at claim have spent a start of its budget:
// they go first, into the free slots they were claimed for, so each runs
// when its start was counted.
const holdsStart = (row: ClaimedRow): boolean =>
  row.admitted && (row.concurrencyKey !== null || row.rateLimited);
const admittedFirst = (rows: ReadonlyArray<ClaimedRow>): ClaimedRow[] =>
  [...rows].sort((x, y) => Number(holdsStart(y)) - Number(holdsStart(x)));

// One lease length per round: the tick follows the shortest.
// (A loop, not Math.min(...rows): a claim may hold 100,000 rows.)
const shortestLease = (rows: ReadonlyArray<ClaimedRow>): number =>
  rows.reduce((shortest, row) => Math.min(shortest, row.heartbeatMs), Infinity);

/**
 * One worker of one queue as a cold Observable of its outcomes. Its fetch
 * side is the state machine of ./workerState.ts (docs/design/worker-state-machine.md):
 * NOTIFY, the poll, the due timer, freed room, prefetch expiry, the stop
 * request and the grace period become events; the machine's effects (claim,
 * NOTIFY registration, give-backs, aborts) run here as Observables, and the
 * tasks it holds go through the throttle (per key, then global) to execute
 * and record, beside lease renewal and cancellation. Subscribing runs it;
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
    // What the machine sees of the tasks: their counts, read as each event arrives.
    const load = () => ({ now: now(), held: tasks.size, writing: tasks.writingCount });
    const loop = workerLoop<ClaimedRow, HeldTask>(settings, load);
    const { dispatch } = loop;
    // Handler timeouts on one timer for this run (./deadlines.ts).
    const deadlines = deadlinesOn(scheduler);
    const execute: ExecuteDeps<I, O> = {
      ...env.execute,
      deadlines,
      admissions: new Admissions(env.execute, () => dispatch({ type: "startRefused" })),
    };
    const claimDeps: ClaimDeps = {
      store: execute.store,
      pool: execute.pool,
      queue: execute.queue,
      workerId: env.workerId,
      waiterId: env.waiterId,
      log: execute.log,
      pollIntervalMs: settings.pollIntervalMs,
      now,
      claimWith: (claim) => env.execute.completer.claimWith(claim),
      events: execute.events,
      route: claimRoute(),
    };
    // Asked when the claim statement goes out, from the state then.
    const want = () => wantOf(loop.state(), load());
    const startable = () => startableOf(loop.state(), load());
    const { schema } = execute;
    const ofKind = <K extends LoopEffect["kind"]>(kind: K): Observable<Extract<LoopEffect, { kind: K }>> =>
      loop.effects$.pipe(
        filter((effect): effect is Extract<LoopEffect, { kind: K }> => effect.kind === kind),
      );

    // The tasks claimed, until the stop closes the intake.
    const held$ = loop.effects$.pipe(
      takeWhile((effect) => effect.kind !== "closeIntake"),
      filter((effect): effect is Extract<LoopEffect, { kind: "hold" }> => effect.kind === "hold"),
      mergeMap((effect) => {
        const at = now();
        return from(admittedFirst(effect.rows).map((row) => tasks.hold(row, at)));
      }),
    );
    // A task ended: enough room freed may wake a claim (./wake.ts).
    const ended = new Subject<void>();
    const outcomes$ = held$.pipe(
      throttle(
        keyOfTask,
        settings.concurrency,
        (task) => runTask(execute, task, () => isRunning(loop.state()) && tasks.holds(task)),
        {
          // The handler is done; its verdict is being written, and a claim
          // may ride with that write.
          handedOn: (task) => {
            tasks.handedOn(task);
            ended.next();
          },
          ended: (task) => {
            tasks.ended(task);
            ended.next();
          },
        },
      ),
      filter((outcome): outcome is Outcome<O> => outcome !== undefined),
      tap({
        // This worker wrote the retry (or snooze), so it knows when it falls due.
        next: (outcome) => {
          if (outcome._tag === "retrying" || outcome._tag === "snoozed")
            dispatch({ type: "dueIn", ms: outcome.runAt.getTime() - now() });
        },
        complete: () => dispatch({ type: "tasksDone" }),
      }),
    );
    const completed$ = loop.effects$.pipe(
      takeWhile((effect) => effect.kind !== "complete"),
      ignoreElements(),
    );

    const wakes$ = wake$(
      {
        notified$: listener.channel$(`${schema}.ready`).pipe(filter((name) => name === execute.queue)),
        listening: () => Promise.all([listener.ready(`${schema}.ready`), env.prepared]).then(() => undefined),
        reconnected$: listener.reconnected$,
        dueIn$: ofKind("armDue").pipe(map((effect) => effect.ms)),
        freed$: freedEnough$(
          ended.pipe(filter(() => heedsWake(loop.state()))),
          want,
          () => tasks.size,
          () => freedThreshold(loop.state(), now()),
        ),
        pollIntervalMs: settings.pollIntervalMs,
      },
      scheduler,
    ).pipe(map((): LoopEvent => ({ type: "woken" })));
    const holdMs = settings.prefetchHoldMs;
    const expired$ = timer(holdMs / 4, holdMs / 4, scheduler).pipe(
      map(() => tasks.takeUnstarted((task) => now() - task.claimedAt >= holdMs)),
      filter((given) => given.length > 0),
      map((given): LoopEvent => ({ type: "prefetchExpired", tasks: given })),
    );
    const events$ = merge(
      // First: the results of the effects the other events ask for.
      loop.effects$.pipe(
        mergeMap(
          runEffect({
            claim: claimDeps,
            lease: execute,
            completions: env.execute.completer,
            tasks,
            want,
            startable,
          }),
        ),
      ),
      wakes$,
      expired$,
      stop$.pipe(
        take(1),
        map((): LoopEvent => ({ type: "stopRequested" })),
      ),
      graceOver$(stop$, settings.shutdownGraceMs, scheduler).pipe(
        map((): LoopEvent => ({ type: "graceOver" })),
      ),
    ).pipe(tap(dispatch));

    // Lease renewals and cancel requests, as for runOnce and drain.
    const upkeep = upkeep$(
      { ...execute, listener, heartbeatTickMs: settings.heartbeatTickMs, scheduler },
      tasks,
      ofKind("hold").pipe(map((effect) => shortestLease(effect.rows))),
    );
    const reaping =
      settings.reapIntervalMs > 0 ? env.requestReaping(settings.reapIntervalMs, scheduler) : undefined;
    // The outcomes, until the machine completes; events, renewals and
    // cancellations beside them.
    return alongside(merge(outcomes$, completed$), merge(events$, upkeep)).pipe(
      finalize(() => {
        reaping?.();
        deadlines.close();
      }),
    );
  });
