import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import {
  Observable,
  Subject,
  Subscription,
  EMPTY,
  asyncScheduler,
  catchError,
  debounceTime,
  defer,
  distinctUntilChanged,
  exhaustMap,
  of,
  filter,
  finalize,
  from,
  groupBy,
  map,
  merge,
  mergeMap,
  scan,
  startWith,
  switchMap,
  tap,
  timer,
} from "rxjs";
import { performance } from "node:perf_hooks";
import { describeThrown } from "../describeThrown.ts";
import { AbortError, messageOf } from "../errors.ts";
import type { Outcome } from "../outcomes.ts";
import {
  queueWaitersDelete,
  queueWaitersUpsert,
  tasksClaim,
  tasksHeartbeat,
  tasksNextDue,
  tasksReap,
  tasksRelease,
  type ClaimedRow,
} from "../queries.ts";
import { Completions } from "./completions.ts";
import {
  abortTask,
  applyRenewal,
  recordAttempt,
  runAttempt,
  type ExecuteDeps,
  type RunningTask,
} from "./execute.ts";
import { fromTask } from "./fromTask.ts";
import { runTransactionalAttempt } from "./transactionalAttempt.ts";
import type { Listener } from "./listener.ts";
import { dueTimer } from "./dueTimer.ts";
import { checkWorkOptions, type ResolvedWorkOptions, type WorkOptions } from "./workOptions.ts";

export { checkWorkOptions, type WorkOptions } from "./workOptions.ts";

export interface WorkerDeps<I, O> extends Omit<ExecuteDeps<I, O>, "completions"> {
  readonly listener: Listener;
}

const noKey = Symbol("no concurrency key");

// A lease is renewed at a third of its length; ticking at least four times
// per lease keeps a renewal due at most 7/12 of the lease after the last.
const ticksPerLease = 4;

// Added to the time since a claim started when reading the next due time:
// covers the gap between the two statements' clocks on a busy machine.
const lookBackMarginMs = 100;

/**
 * One running worker of one queue. Observables decide when things happen
 * (wake-ups, timers, per-key limits); the task pipeline decides what.
 */
export class WorkerRun<I, O> {
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly running = new Map<string, RunningTask & { renewedAt: number }>();
  private readonly claimed = new Subject<RunningTask>();
  private readonly freed = new Subject<void>();
  private readonly subscriptions = new Subscription();
  private readonly completions: Completions;
  private readonly executeDeps: ExecuteDeps<I, O>;
  private readonly concurrency: number;
  /** Tasks claimed and not finished, started or not, at most. */
  private readonly target: number;
  private readonly slots: Slots;
  private claiming: Promise<void> | undefined;
  private claimAgain = false;
  /** Registered in queue_waiter: inserts NOTIFY this worker. */
  private waiting = false;
  private stopping: Promise<void> | undefined;
  private readonly drained = new Subject<void>();
  /** "A task of this queue falls due in this many ms." */
  private readonly dueIn = new Subject<number>();
  /** Lease lengths of claimed tasks, for the renewal tick. */
  private readonly leases = new Subject<number>();
  private readonly settings: ResolvedWorkOptions;

  constructor(
    private readonly deps: WorkerDeps<I, O>,
    options: WorkOptions,
    private readonly emit: (outcome: Outcome<O>) => void,
  ) {
    this.settings = checkWorkOptions(options);
    this.completions = new Completions(deps.sql, deps.pool);
    this.executeDeps = { ...deps, completions: this.completions };
    this.concurrency = this.settings.concurrency;
    this.target = this.concurrency + this.settings.prefetch;
    this.slots = new Slots(this.concurrency);
  }

  start(): void {
    const scheduler = this.settings.scheduler ?? asyncScheduler;
    const { listener, sql, queue } = this.deps;
    const channel = `${sql.schema}.ready`;
    const notified$ = listener.channel$(channel).pipe(filter((name) => name === queue));
    // The first claim waits for LISTEN to be active (or known impossible):
    // registering for NOTIFY before it would let an insert's notification
    // go unheard until the next poll. Deferred so that notified$, merged
    // first, has started the LISTEN.
    const poll$ = defer(() => listener.ready(channel)).pipe(
      switchMap(() => timer(0, this.settings.pollIntervalMs, scheduler)),
    );
    // A finished task wakes a claim only once half the local queue is free,
    // so a busy worker claims in batches while prefetched tasks keep every
    // slot busy, instead of one claim per completion.
    const threshold = Math.max(1, Math.floor(this.target / 2));
    const freed$ = this.freed.pipe(filter(() => this.free() >= threshold || this.running.size === 0));
    const wake$ = merge(
      notified$,
      // Delayed tasks, retries and later steps, on time; the poll is a fallback.
      dueTimer(this.dueIn, scheduler),
      poll$,
      listener.reconnected$,
      freed$,
    );
    this.subscriptions.add(wake$.subscribe(() => this.claim()));
    // Cancellation reaches the process running the task through NOTIFY.
    this.subscriptions.add(
      listener.channel$(`${sql.schema}.cancel`).subscribe((id) => this.abort(id, "cancelled")),
    );
    this.subscriptions.add(
      this.claimed
        .pipe(
          groupBy((task) => task.row.concurrency_key ?? noKey, {
            // A key's group closes after a minute without tasks (its running
            // tasks carry on), so many one-off keys do not pile up.
            duration: (group) => group.pipe(debounceTime(60_000, scheduler)),
          }),
          mergeMap((group) =>
            group.pipe(
              // Per key at most its limit; across keys, the worker's slots.
              mergeMap(
                (task) => this.execute(task),
                group.key === noKey ? this.target : Math.max(1, this.limitOf(group.key)),
              ),
              finalize(() => {
                if (group.key !== noKey) this.limits.delete(group.key);
              }),
            ),
          ),
        )
        .subscribe((outcome) => {
          if (outcome === undefined) return;
          // This worker wrote the retry, so it knows when it falls due (both
          // times on this process's clock).
          if (outcome._tag === "retrying") this.dueIn.next(outcome.runAt.getTime() - Date.now());
          this.emit(outcome);
        }),
    );
    // The renewal tick follows the shortest lease seen, so a short lease
    // is renewed several times within its length whatever heartbeatTickMs
    // says; a slow renewal is not overlapped by the next tick's.
    const tickMs = this.settings.heartbeatTickMs;
    this.subscriptions.add(
      this.leases
        .pipe(
          scan((shortest, lease) => Math.min(shortest, lease), Number.POSITIVE_INFINITY),
          map((shortest) => Math.max(10, Math.min(tickMs, Math.floor(shortest / ticksPerLease)))),
          startWith(tickMs),
          distinctUntilChanged(),
          switchMap((tick) => timer(tick, tick, scheduler)),
          exhaustMap(() => from(this.heartbeat())),
        )
        .subscribe(),
    );
    const reapEvery = this.settings.reapIntervalMs;
    if (reapEvery > 0) {
      this.subscriptions.add(timer(0, reapEvery, scheduler).subscribe(() => void this.reap()));
    }
  }

  private readonly limits = new Map<string, number>();
  private limitOf(key: string): number {
    return this.limits.get(key) ?? 1;
  }

  private free(): number {
    return this.target - this.running.size;
  }

  /** Claims up to the free capacity; a wake during a claim claims again after it. */
  private claim(): void {
    if (this.stopping !== undefined) return;
    if (this.claiming !== undefined) {
      this.claimAgain = true;
      return;
    }
    const want = this.free();
    if (want <= 0) return;
    this.claimAgain = false;
    this.claiming = (async () => {
      const claimStarted = performance.now();
      const result = await tasksClaim(this.deps.sql, this.deps.pool, this.deps.queue, want, this.workerId)();
      this.deps.events.claimed(
        this.deps.queue,
        E.isRight(result) ? result.right.length : 0,
        performance.now() - claimStarted,
      );
      await pipe(
        result,
        E.fold(
          async (error) =>
            this.deps.log.warn("claim failed; will retry on the next wake-up", {
              error: messageOf(error.cause),
            }),
          (rows) => this.accept(rows),
        ),
      );
      const got = E.isRight(result) ? result.right.length : -1;
      if (got === 0) {
        // Registering may race an insert that did not see us yet: claim once
        // more after a new registration, so nothing waits for the poll.
        if (await this.waitForInserts()) this.claimAgain = true;
      } else if (got === want) {
        await this.stopWaiting();
      }
      // The queue had fewer tasks ready than wanted: learn when the next one
      // falls due, so it starts on time rather than at the next poll.
      if (got >= 0 && got < want) await this.readNextDue(performance.now() - claimStarted);
      this.claiming = undefined;
      if (this.claimAgain || got === want) this.claim();
    })();
  }

  /** Announces the queue's next due time; `sinceClaimMs` has passed since the last claim started. */
  private async readNextDue(sinceClaimMs: number): Promise<void> {
    const { sql, pool, queue } = this.deps;
    const result = await tasksNextDue(sql, pool, queue, Math.ceil(sinceClaimMs) + lookBackMarginMs)();
    pipe(
      result,
      E.fold(
        (error) =>
          this.deps.log.warn("could not read the next due time; delayed tasks wait for the poll", {
            error: messageOf(error.cause),
          }),
        (waitMs) => {
          if (waitMs !== null) this.dueIn.next(waitMs);
        },
      ),
    );
  }

  /** Asks inserts to NOTIFY; true when this is a new registration. */
  private async waitForInserts(): Promise<boolean> {
    const ttl = Math.max(3 * this.settings.pollIntervalMs, 60_000);
    const { sql, pool, queue } = this.deps;
    const result = await queueWaitersUpsert(sql, pool, queue, this.workerId, ttl)();
    const fresh = E.isRight(result) && !this.waiting;
    if (E.isRight(result)) this.waiting = true;
    return fresh;
  }

  /** A busy worker finds work by claiming as it finishes: no NOTIFY needed. */
  private async stopWaiting(): Promise<void> {
    if (!this.waiting) return;
    this.waiting = false;
    await queueWaitersDelete(this.deps.sql, this.deps.pool, this.deps.queue, this.workerId)();
  }

  private accept(rows: ReadonlyArray<ClaimedRow>): Promise<void> {
    if (this.stopping !== undefined) {
      // Awaited as part of the claim, which stop() awaits: the tasks are back
      // before stop() resolves (and before the pool can be ended).
      return this.release(rows);
    }
    for (const row of rows) {
      if (row.concurrency_key !== null) this.limits.set(row.concurrency_key, row.concurrency_limit);
      const task = {
        row,
        controller: new AbortController(),
        abandon: new AbortController(),
        started: false,
        renewedAt: Date.now(),
      };
      this.running.set(row.id, task);
      this.leases.next(row.heartbeat_ms);
      this.claimed.next(task);
    }
    return Promise.resolve();
  }

  /** Runs `work` in a slot, unless the stop came first (shutdown() gives the task back). */
  private inSlot<A>(task: RunningTask, work: () => Observable<A>): Observable<A> {
    return this.slots.run(() => {
      if (this.stopping !== undefined) return EMPTY;
      task.started = true;
      return work();
    });
  }

  private execute(task: RunningTask): Observable<Outcome<O> | undefined> {
    const deps = this.executeDeps;
    // Only the handler holds a slot: the write of its verdict is grouped with
    // others and must not keep the next task waiting. A transactional
    // handler's verdict is written in its own transaction, inside its slot.
    const attempt$ =
      deps.transactional?.(task.row) === true
        ? this.inSlot(task, () => fromTask(runTransactionalAttempt(deps, task)))
        : this.inSlot(task, () => fromTask(runAttempt(deps)(task))).pipe(
            mergeMap((verdict) => fromTask(recordAttempt(deps, task)(verdict))),
          );
    return attempt$.pipe(
      // A bug must cost one task (its lease expires and it runs again), never the worker.
      catchError((thrown: unknown) => {
        const error = describeThrown(thrown);
        this.deps.log.error("task pipeline threw; the task will run again when its lease expires", {
          taskId: task.row.id,
          error: error.stack ?? error.message,
        });
        return of(undefined);
      }),
      tap((outcome) => deps.events.ended(deps.queue, task, outcome)),
      finalize(() => this.forget(task.row.id)),
    );
  }

  private forget(id: string): void {
    this.running.delete(id);
    this.freed.next();
    if (this.running.size === 0) this.drained.next();
  }

  private async release(rows: ReadonlyArray<ClaimedRow>): Promise<void> {
    if (rows.length === 0) return;
    const result = await tasksRelease(
      this.deps.sql,
      this.deps.pool,
      rows.map((row) => row.id),
      rows.map((row) => row.attempt),
    )();
    if (E.isLeft(result)) {
      this.deps.log.warn("could not return unstarted tasks; they run again when their lease expires", {
        error: messageOf(result.left.cause),
      });
    }
  }

  /** Renews the leases that are a third through; aborts tasks whose lease was lost. */
  private async heartbeat(): Promise<void> {
    const now = Date.now();
    const due = [...this.running.values()].filter(
      (task) => now - task.renewedAt >= task.row.heartbeat_ms / 3,
    );
    if (due.length === 0) return;
    const result = await tasksHeartbeat(
      this.deps.sql,
      this.deps.pool,
      due.map((task) => task.row.id),
      due.map((task) => task.row.attempt),
    )();
    pipe(
      result,
      E.fold(
        (error) =>
          this.deps.log.warn("heartbeat failed; retrying on the next tick", {
            error: messageOf(error.cause),
          }),
        (rows) => {
          const renewed = new Map(rows.map((row) => [row.id, row]));
          for (const task of due) {
            // A task that ended meanwhile is no longer this worker's concern.
            if (this.running.has(task.row.id) && applyRenewal(task, renewed.get(task.row.id)))
              task.renewedAt = now;
          }
        },
      ),
    );
  }

  private async reap(): Promise<void> {
    const result = await tasksReap(this.deps.sql, this.deps.pool, 500)();
    pipe(
      result,
      E.fold(
        (error) => this.deps.log.warn("reaping expired leases failed", { error: messageOf(error.cause) }),
        (ids) => {
          this.deps.events.reaped(ids);
          if (ids.length > 0) this.deps.log.warn("returned tasks with expired leases", { count: ids.length });
        },
      ),
    );
  }

  /** Aborts a running task (cancellation); true if this worker was running it. */
  abort(taskId: string, reason: "cancelled"): boolean {
    const task = this.running.get(taskId);
    if (task === undefined) return false;
    abortTask(task, reason);
    return true;
  }

  /**
   * Stops claiming, lets in-flight tasks finish for `shutdownGraceMs`, then
   * fires their signals; waits for every result to be written.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    await this.claiming;
    await this.stopWaiting();
    // Prefetched tasks that have not started go back to pending untouched,
    // at once, for other workers.
    const unstarted = [...this.running.values()].filter((task) => !task.started);
    for (const task of unstarted) this.running.delete(task.row.id);
    await this.release(unstarted.map((task) => task.row));
    const grace = this.settings.shutdownGraceMs;
    const allDone = new Promise<void>((done) => {
      if (this.running.size === 0) return done();
      const sub = this.drained.subscribe(() => {
        sub.unsubscribe();
        done();
      });
    });
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"grace over">((done) => {
      graceTimer = setTimeout(() => done("grace over"), grace);
    });
    if ((await Promise.race([allDone, graceOver])) === "grace over") {
      for (const task of this.running.values()) {
        // A cancelled handler still running: stop waiting for it and stop
        // renewing its lease, which lapses; the reaper ends the task cancelled.
        const reason: unknown = task.controller.signal.reason;
        if (reason instanceof AbortError && reason.kind === "cancelled") task.abandon.abort();
        else abortTask(task, "shutdown");
      }
      await allDone;
    }
    clearTimeout(graceTimer);
    await this.completions.idle();
    this.subscriptions.unsubscribe();
    this.claimed.complete();
  }
}

/**
 * The worker's execution slots: at most `size` tasks run at once across all
 * concurrency keys; the rest wait in claim order.
 */
class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  run<A>(work: () => Observable<A>): Observable<A> {
    return new Observable<A>((subscriber) => {
      let inner: Subscription | undefined;
      let holding = false;
      let cancelled = false;
      const start = () => {
        if (cancelled) return this.release();
        holding = true;
        inner = work().subscribe(subscriber);
      };
      if (this.used < this.size) {
        this.used += 1;
        start();
      } else {
        this.waiting.push(start);
      }
      return () => {
        cancelled = true;
        inner?.unsubscribe();
        if (holding) this.release();
      };
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.used -= 1;
  }
}
