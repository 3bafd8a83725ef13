import * as E from "fp-ts/lib/Either.js";
import * as TE from "fp-ts/lib/TaskEither.js";
import { pipe } from "fp-ts/lib/function.js";
import type pg from "pg";
import {
  EMPTY,
  Observable,
  Subject,
  Subscription,
  asyncScheduler,
  defer,
  expand,
  filter,
  from,
  merge,
  mergeMap,
  race,
  switchMap,
  take,
  timer,
  type SchedulerLike,
} from "rxjs";
import type { CheckedInput } from "./enqueue/checkInput.ts";
import { ConfigError, dbError, messageOf, type DbError, type DecodeError } from "./errors.ts";
import { tasksEnqueue, type EnqueueColumns } from "./queries.ts";
import { nextTick, scheduleSpecOf, ticksBetween, type Schedulable, type ScheduleSpec } from "./schedule.ts";
import {
  scheduleTicksInsert,
  scheduleTicksSetTask,
  schedulesGet,
  type ScheduleRow,
} from "./scheduleQueries.ts";
import { fromTask, fromTaskEither } from "./worker/fromTask.ts";

/** How a scheduler runs. Every field has a default. */
export interface SchedulerOptions {
  /** Fallback re-read of the schedule, for lost notifications. Default 10,000 ms. */
  readonly refreshIntervalMs?: number;
  /** Most missed ticks one catch-up enqueues (the latest ones; older are skipped). Default 100. */
  readonly maxCatchUp?: number;
  /** Wait before retrying a tick whose database write failed. Default 1,000 ms. */
  readonly retryDelayMs?: number;
  /** Timers run on it and its `now()` is the clock: inject one for tests. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
}

/** A tick this scheduler enqueued (ticks other schedulers took are not reported here). */
export interface TickEvent {
  /** The queue whose schedule ticked, and where the task was enqueued. */
  readonly queue: string;
  /** The tick's time, as the cron expression gives it. */
  readonly tickAt: Date;
  /** The task enqueued; null when the job's `uniqueKey` option made it a duplicate. */
  readonly taskId: string | null;
}

/** A running scheduler: its tick stream and a stop that waits for a tick being written. */
export interface Scheduler {
  /** Ticks this scheduler enqueued. Hot. */
  readonly ticks$: Observable<TickEvent>;
  /** Stops ticking; resolves once a tick being written is committed or rolled back. `ticks$` then completes. */
  stop(): Promise<void>;
}

/** What the scheduler knows of its queue's schedule. */
type Known<V> =
  | { readonly _tag: "Unread" }
  | { readonly _tag: "None" }
  | { readonly _tag: "Invalid"; readonly version: string }
  | {
      readonly _tag: "Active";
      readonly row: ScheduleRow;
      readonly spec: ScheduleSpec;
      readonly input: CheckedInput<V>;
    };

/** Result of one pass of the tick loop: what it enqueued and how long to sleep. */
interface Step {
  readonly events: ReadonlyArray<TickEvent>;
  readonly waitMs: number;
}

type Fired =
  | { readonly _tag: "Claimed"; readonly taskId: string | null }
  | { readonly _tag: "Taken" }
  | { readonly _tag: "Outdated" };

// A timer longer than 2^31-1 ms fires at once in Node, and a wall clock that
// jumps (NTP, a suspended laptop) is only noticed on waking: never sleep
// longer than this, just re-check.
const maxWaitMs = 60_000;

/**
 * The ticks to enqueue now: those in `(cursor, now]`, but only the latest
 * when missed ticks are skipped (a scheduler woken late, or one that finds
 * ticks due since it last ran), and at most `maxCatchUp` when caught up.
 */
export const dueTicks = (
  spec: ScheduleSpec,
  cursor: number,
  now: number,
  catchUp: boolean,
  maxCatchUp: number,
): Date[] => ticksBetween(spec, new Date(cursor), new Date(now), catchUp ? maxCatchUp : 1);

/**
 * Where a scheduler resumes when it learns of a schedule version: never
 * before the schedule was written (earlier ticks of a new expression were
 * never due), and, for a catching-up schedule first seen by this run, right
 * after the last tick anyone enqueued.
 */
export const cursorFor = (
  row: Pick<ScheduleRow, "catchUp" | "updatedAt" | "lastTickAt">,
  cursor: number,
  firstSight: boolean,
): number => {
  const written = row.updatedAt.getTime();
  if (firstSight && row.catchUp) return Math.max(row.lastTickAt?.getTime() ?? written, written);
  return Math.max(cursor, written);
};

const withTransaction = <A>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => TE.TaskEither<DbError, A>,
): TE.TaskEither<DbError, A> => {
  const statement = (client: pg.PoolClient, text: string) =>
    TE.tryCatch(
      () => client.query(text),
      (cause) => dbError(text, cause),
    );
  return TE.bracket(
    TE.tryCatch(
      () => pool.connect(),
      (cause) => dbError("connect", cause),
    ),
    (client) =>
      pipe(
        statement(client, "begin"),
        TE.chain(() => work(client)),
        TE.chainFirst(() => statement(client, "commit")),
        TE.orElse((error) =>
          pipe(
            statement(client, "rollback"),
            TE.chain(() => TE.left(error)),
          ),
        ),
      ),
    // A client whose transaction failed may be broken: destroy it rather than
    // hand it to the next user of the pool.
    (client, result) => TE.fromIO(() => client.release(E.isLeft(result) ? true : undefined)),
  );
};

/**
 * One running scheduler of one queue. Observables decide when to look
 * (timer to the next tick, schedule changes, periodic re-reads); `step`
 * decides what to enqueue.
 */
class SchedulerRun<In, V> {
  private known: Known<V> = { _tag: "Unread" };
  /** Bumped on each change of `known`, so a step can tell it acted on an old one. */
  private knownSeq = 0;
  private actedVersion: string | undefined;
  private cursor: number;
  private readonly changed = new Subject<void>();
  private readonly refreshNow = new Subject<void>();
  private readonly subscriptions = new Subscription();
  private readonly decodeInput: (value: unknown) => E.Either<DecodeError, CheckedInput<V>>;
  private readonly clock: SchedulerLike;
  private stepping: Promise<Step> | undefined;
  private stopped = false;

  constructor(
    private readonly job: Schedulable<In, V>,
    private readonly options: SchedulerOptions,
  ) {
    this.clock = options.scheduler ?? asyncScheduler;
    this.cursor = this.clock.now();
    this.decodeInput = (stored) =>
      E.map((value: V): CheckedInput<V> => ({ value, stored, json: JSON.stringify(stored) }))(
        job.definition.input.load(stored),
      );
    const maxCatchUp = options.maxCatchUp ?? 100;
    if (!Number.isInteger(maxCatchUp) || maxCatchUp < 1) {
      throw new ConfigError(`maxCatchUp must be an integer >= 1, got ${maxCatchUp}`);
    }
    const refresh = options.refreshIntervalMs ?? 10_000;
    if (!(refresh >= 1)) throw new ConfigError(`refreshIntervalMs must be >= 1, got ${refresh}`);
    const retry = options.retryDelayMs ?? 1_000;
    if (!(retry >= 0)) throw new ConfigError(`retryDelayMs must be >= 0, got ${retry}`);
  }

  start(emit: (event: TickEvent) => void): void {
    const { listener, sql } = this.job.underway;
    const channel = `${sql.schema}.schedule`;
    const queue = this.job.queue;
    const reads$ = merge(
      listener.channel$(channel).pipe(filter((name) => name === queue)),
      listener.reconnected$,
      this.refreshNow,
      // The first read waits for LISTEN, so no change falls between the two.
      defer(() => listener.ready(channel)).pipe(
        mergeMap(() => timer(0, this.options.refreshIntervalMs ?? 10_000, this.clock)),
      ),
    ).pipe(switchMap(() => fromTaskEither(schedulesGet(sql, this.job.underway.pool, queue))));
    this.subscriptions.add(reads$.subscribe((read) => this.learn(read)));

    const loop$ = fromTask(() => this.runStep()).pipe(
      expand((step) =>
        race(timer(step.waitMs, this.clock), this.changed).pipe(
          take(1),
          mergeMap(() => (this.stopped ? EMPTY : fromTask(() => this.runStep()))),
        ),
      ),
      mergeMap((step) => from(step.events)),
    );
    this.subscriptions.add(loop$.subscribe(emit));
  }

  /** Takes in a read of the schedule row; wakes the loop when it changed. */
  private learn(read: E.Either<DbError, ScheduleRow | undefined>): void {
    const { log, sql } = this.job.underway;
    const queue = this.job.queue;
    if (E.isLeft(read)) {
      log.warn("reading the schedule failed; keeping the last one read", {
        queue,
        error: messageOf(read.left.cause),
      });
      return;
    }
    const row = read.right;
    const current = this.known;
    if (row === undefined) {
      if (current._tag === "None") return;
      this.setKnown({ _tag: "None" });
      return;
    }
    if (
      (current._tag === "Active" && current.row.version === row.version) ||
      (current._tag === "Invalid" && current.version === row.version)
    )
      return;
    const parsed = E.tryCatch(() => scheduleSpecOf(row.cron, row.timeZone), messageOf);
    const input = this.decodeInput(row.input);
    if (E.isLeft(parsed) || E.isLeft(input)) {
      log.error("the stored schedule is not valid; no ticks until it is replaced", {
        queue,
        schema: sql.schema,
        error: E.isLeft(parsed) ? parsed.left : E.isLeft(input) ? input.left.message : "",
      });
      this.setKnown({ _tag: "Invalid", version: row.version });
      return;
    }
    this.setKnown({ _tag: "Active", row, spec: parsed.right, input: input.right });
  }

  private setKnown(known: Known<V>): void {
    this.known = known;
    this.knownSeq += 1;
    this.changed.next();
  }

  private runStep(): Promise<Step> {
    this.stepping = this.step();
    return this.stepping;
  }

  /** Enqueues the ticks due now, then says how long to sleep until the next. */
  private async step(): Promise<Step> {
    const seq = this.knownSeq;
    const { events, waitMs } = await this.fireDue();
    // A change that arrived while this step ran had no one to wake: look again at once.
    return { events, waitMs: seq === this.knownSeq ? waitMs : 0 };
  }

  private async fireDue(): Promise<Step> {
    const known = this.known;
    if (known._tag !== "Active") return { events: [], waitMs: maxWaitMs };
    const { row, spec } = known;
    if (this.actedVersion !== row.version) {
      this.cursor = cursorFor(row, this.cursor, this.actedVersion === undefined);
      this.actedVersion = row.version;
    }
    const maxCatchUp = this.options.maxCatchUp ?? 100;
    const due = dueTicks(spec, this.cursor, this.clock.now(), row.catchUp, maxCatchUp);
    const events: TickEvent[] = [];
    for (const tick of due) {
      if (this.stopped) return { events, waitMs: maxWaitMs };
      const fired = await this.fire(known, tick)();
      if (E.isLeft(fired)) {
        // The cursor stays before this tick: it is tried again (or, when
        // missed ticks are skipped, superseded by a later one).
        this.job.underway.log.warn("enqueuing a scheduled tick failed; retrying", {
          queue: row.queue,
          tick: tick.toISOString(),
          error: messageOf(fired.left.cause),
        });
        return { events, waitMs: this.options.retryDelayMs ?? 1_000 };
      }
      if (fired.right._tag === "Outdated") {
        // Someone changed the schedule since it was read: read it again,
        // and let the new version decide about this tick.
        this.refreshNow.next();
        return { events, waitMs: maxWaitMs };
      }
      this.cursor = tick.getTime();
      if (fired.right._tag === "Claimed") {
        events.push({ queue: row.queue, tickAt: tick, taskId: fired.right.taskId });
      }
    }
    const now = this.clock.now();
    const next = nextTick(spec, new Date(Math.max(this.cursor, now)));
    const waitMs = next === null ? maxWaitMs : Math.min(maxWaitMs, Math.max(0, next.getTime() - now));
    return { events, waitMs };
  }

  /** Claims the tick and enqueues its task, in one transaction. */
  private fire(known: Extract<Known<V>, { _tag: "Active" }>, tick: Date): TE.TaskEither<DbError, Fired> {
    const { sql, pool } = this.job.underway;
    const queue = this.job.queue;
    return pipe(
      TE.fromEither(
        E.tryCatch(
          (): EnqueueColumns => this.job.columnsOf([known.input], undefined),
          (cause) => dbError("columnsOf", cause),
        ),
      ),
      TE.chain((columns) =>
        withTransaction(pool, (client) =>
          pipe(
            scheduleTicksInsert(sql, client, queue, known.row.version, tick),
            TE.chain((claim): TE.TaskEither<DbError, Fired> => {
              if (claim.version !== known.row.version) return TE.right({ _tag: "Outdated" });
              if (!claim.claimed) return TE.right({ _tag: "Taken" });
              return pipe(
                tasksEnqueue(sql, client, queue, columns),
                TE.chain((rows) => {
                  const taskId = rows[0]?.id ?? null;
                  if (taskId === null) return TE.right<DbError, Fired>({ _tag: "Claimed", taskId });
                  return pipe(
                    scheduleTicksSetTask(sql, client, queue, tick, taskId),
                    TE.map((): Fired => ({ _tag: "Claimed", taskId })),
                  );
                }),
              );
            }),
          ),
        ),
      ),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.subscriptions.unsubscribe();
    this.changed.complete();
    this.refreshNow.complete();
    // A tick being written finishes (commit or rollback) before stop resolves.
    await this.stepping;
  }
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
  const run = new SchedulerRun(job, options);
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
  const untrack = job.underway.track(scheduler);
  // `underway.shutdownQueue(queue)` stops the queue's schedulers in every
  // process, as it stops its workers.
  const { listener, sql } = job.underway;
  const shutdown = listener
    .channel$(`${sql.schema}.shutdown`)
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
