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
  of,
  filter,
  finalize,
  groupBy,
  merge,
  mergeMap,
  timer,
  type SchedulerLike,
} from "rxjs";
import { messageOf } from "../errors.ts";
import type { Outcome } from "../outcomes.ts";
import {
  queueWaitersDelete,
  queueWaitersUpsert,
  tasksClaim,
  tasksHeartbeat,
  tasksReap,
  tasksRelease,
  type ClaimedRow,
} from "../queries.ts";
import { Completions } from "./completions.ts";
import { recordAttempt, runAttempt, type ExecuteDeps, type RunningTask } from "./execute.ts";
import { fromTask } from "./fromTask.ts";
import type { Listener } from "./listener.ts";

/** How a worker runs. Every field has a default. */
export interface WorkOptions {
  /** Tasks run at once by this worker. Default 10. */
  readonly concurrency?: number;
  /**
   * Tasks claimed ahead of free slots and held locally (leases renewed), so
   * a busy worker claims in batches and never waits on a claim. Claimed but
   * unstarted tasks go back to pending on stop. Default: `concurrency`.
   */
  readonly prefetch?: number;
  /** Fallback poll for lost notifications and delayed tasks. Default 1,000 ms. */
  readonly pollIntervalMs?: number;
  /** How often leases are checked for renewal (each is renewed at a third of its length). Default 500 ms. */
  readonly heartbeatTickMs?: number;
  /** How often this worker returns expired leases to pending. Default 5,000 ms; 0 disables. */
  readonly reapIntervalMs?: number;
  /** On stop, how long in-flight tasks may run before their signal fires. Default 30,000 ms. */
  readonly shutdownGraceMs?: number;
  /** For tests on virtual time. */
  readonly scheduler?: SchedulerLike;
}

export interface WorkerDeps<I, O> extends Omit<ExecuteDeps<I, O>, "completions"> {
  readonly listener: Listener;
}

const noKey = Symbol("no concurrency key");

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

  constructor(
    private readonly deps: WorkerDeps<I, O>,
    private readonly options: WorkOptions,
    private readonly emit: (outcome: Outcome<O>) => void,
  ) {
    this.completions = new Completions(deps.sql, deps.pool);
    this.executeDeps = { ...deps, completions: this.completions };
    this.concurrency = options.concurrency ?? 10;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new RangeError(`concurrency must be an integer >= 1, got ${this.concurrency}`);
    }
    const prefetch = options.prefetch ?? this.concurrency;
    if (!Number.isInteger(prefetch) || prefetch < 0) {
      throw new RangeError(`prefetch must be an integer >= 0, got ${prefetch}`);
    }
    this.target = this.concurrency + prefetch;
    this.slots = new Slots(this.concurrency);
  }

  start(): void {
    const scheduler = this.options.scheduler ?? asyncScheduler;
    const { listener, sql, queue } = this.deps;
    const notified$ = listener.channel$(`${sql.schema}.ready`).pipe(filter((name) => name === queue));
    // A finished task wakes a claim only once half the local queue is free,
    // so a busy worker claims in batches while prefetched tasks keep every
    // slot busy, instead of one claim per completion.
    const threshold = Math.max(1, Math.floor(this.target / 2));
    const freed$ = this.freed.pipe(filter(() => this.free() >= threshold || this.running.size === 0));
    const wake$ = merge(
      notified$,
      timer(0, this.options.pollIntervalMs ?? 1_000, scheduler),
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
          if (outcome !== undefined) this.emit(outcome);
        }),
    );
    const tick = this.options.heartbeatTickMs ?? 500;
    this.subscriptions.add(timer(tick, tick, scheduler).subscribe(() => void this.heartbeat()));
    const reapEvery = this.options.reapIntervalMs ?? 5_000;
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
      const result = await tasksClaim(this.deps.sql, this.deps.pool, this.deps.queue, want, this.workerId)();
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
      this.claiming = undefined;
      if (this.claimAgain || got === want) this.claim();
    })();
  }

  /** Asks inserts to NOTIFY; true when this is a new registration. */
  private async waitForInserts(): Promise<boolean> {
    const ttl = Math.max(3 * (this.options.pollIntervalMs ?? 1_000), 60_000);
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
      const task = { row, controller: new AbortController(), started: false, renewedAt: Date.now() };
      this.running.set(row.id, task);
      this.claimed.next(task);
    }
    return Promise.resolve();
  }

  private execute(task: RunningTask): Observable<Outcome<O> | undefined> {
    // Only the handler holds a slot: the write of its verdict is grouped with
    // others and must not keep the next task waiting.
    return this.slots
      .run(() => {
        // Claimed but not started when the stop came: given back by shutdown().
        if (this.stopping !== undefined) return EMPTY;
        task.started = true;
        return fromTask(runAttempt(this.executeDeps)(task));
      })
      .pipe(
        mergeMap((verdict) => fromTask(recordAttempt(this.executeDeps, task)(verdict))),
        // A bug must cost one task (its lease expires and it runs again), never the worker.
        catchError((error: unknown) => {
          this.deps.log.error("task pipeline threw; the task will run again when its lease expires", {
            taskId: task.row.id,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          });
          return of(undefined);
        }),
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
        (ids) => {
          const kept = new Set(ids);
          for (const task of due) {
            if (kept.has(task.row.id)) task.renewedAt = now;
            else if (this.running.has(task.row.id)) task.controller.abort("lease lost");
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
          if (ids.length > 0) this.deps.log.warn("returned tasks with expired leases", { count: ids.length });
        },
      ),
    );
  }

  /** Aborts a running task (cancellation); true if this worker was running it. */
  abort(taskId: string, reason: "cancelled"): boolean {
    const task = this.running.get(taskId);
    if (task === undefined) return false;
    task.controller.abort(reason);
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
    const grace = this.options.shutdownGraceMs ?? 30_000;
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
      for (const task of this.running.values()) task.controller.abort("shutdown");
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
