import * as E from "fp-ts/lib/Either.js";
import { checkOptionShape, type OptionShape } from "./optionShape.ts";
import { schedulerRule } from "./worker/workOptions.ts";
import * as TE from "fp-ts/lib/TaskEither.js";
import { pipe } from "fp-ts/lib/function.js";
import { asyncScheduler, exhaustMap, timer, type SchedulerLike, type Subscription } from "rxjs";
import { messageOf, orThrow, type DbError } from "./errors.ts";
import { depsOf, type Db, type RetentionDeps } from "./client/clientDeps.ts";
import type { Stoppable, Underway } from "./underway.ts";
import { fromTask } from "./worker/fromTask.ts";

/** Options of {@link sweepExpired}. */
export interface SweepOptions {
  /** Tasks deleted per statement, which bounds the row locks one statement holds. Default 1,000. */
  readonly batchSize?: number;
}

/** Options of {@link startRetention}. */
export interface RetentionOptions extends SweepOptions {
  /** Time between sweeps; the first runs at once. Default 60,000 ms. */
  readonly intervalMs?: number;
  /** For tests on virtual time. */
  readonly scheduler?: SchedulerLike;
}

const defaultBatchSize = 1_000;

const sweepShape: OptionShape = { batchSize: { type: "integer", min: 1, max: 2_147_483_647 } };
const retentionShape: OptionShape = {
  ...sweepShape,
  intervalMs: { type: "integer", min: 1, max: 2_147_483_647 },
  scheduler: schedulerRule,
};

/**
 * Deletes batches until a batch comes back short: then nothing expired is
 * left, or what is left is locked by another sweeper, which deletes it.
 * `goOn` lets a stopping sweeper end between batches.
 */
const sweepTasks = (
  db: Db,
  batchSize: number,
  goOn: () => boolean,
  deletedSoFar = 0,
): TE.TaskEither<DbError, number> =>
  pipe(
    db.store.tasksDeleteExpired(db.pool, { limit: batchSize }),
    TE.chain((ids) => {
      const deleted = deletedSoFar + ids.length;
      return ids.length === batchSize && goOn()
        ? sweepTasks(db, batchSize, goOn, deleted)
        : TE.right(deleted);
    }),
  );

/** Idle rate budgets, by batches as tasks are (docs/flow-control.md); resolves with how many went. */
const sweepBudgets = (db: Db, batchSize: number, goOn: () => boolean): TE.TaskEither<DbError, number> =>
  pipe(
    db.store.rateBudgetsPrune(db.pool, { limit: batchSize }),
    TE.chain((deleted) =>
      deleted === batchSize && goOn() ? sweepBudgets(db, batchSize, goOn) : TE.right(deleted),
    ),
  );

/** Completed batches past their ttl (docs/workflows.md#batches); resolves with how many went. */
const sweepBatches = (db: Db, batchSize: number, goOn: () => boolean): TE.TaskEither<DbError, number> =>
  pipe(
    db.store.batchesDeleteExpired(db.pool, { limit: batchSize }),
    TE.chain((ids) =>
      ids.length === batchSize && goOn() ? sweepBatches(db, batchSize, goOn) : TE.right(ids.length),
    ),
  );

/** Expired tasks, then idle rate budgets and expired batches; resolves with how many tasks went. */
const sweep = (db: Db, batchSize: number, goOn: () => boolean): TE.TaskEither<DbError, number> =>
  pipe(
    sweepTasks(db, batchSize, goOn),
    TE.chainFirst(() => sweepBudgets(db, batchSize, goOn)),
    TE.chainFirst(() => sweepBatches(db, batchSize, goOn)),
  );

/**
 * Deletes every finished task (succeeded, failed or cancelled) whose ttl has
 * passed since it finished, with its attempt history, in batches of
 * `batchSize`; resolves with how many were deleted. Pending and running
 * tasks are never deleted. Safe to run from many processes at once: each
 * batch skips rows another sweeper holds, so sweepers share the work and
 * never wait on each other or on workers.
 *
 * @example
 * const deleted = await sweepExpired(underway, { batchSize: 500 });
 */
export const sweepExpired = async (underway: Underway, options: SweepOptions = {}): Promise<number> => {
  checkOptionShape("sweepExpired options", options, sweepShape);
  const batchSize = options.batchSize ?? defaultBatchSize;
  return orThrow(sweep(depsOf(underway), batchSize, () => true)());
};

/** A periodic sweep; see {@link startRetention}. */
class RetentionRun implements Stoppable {
  private subscription: Subscription | undefined;
  private inFlight: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private untrack: () => void = () => undefined;

  constructor(
    private readonly deps: RetentionDeps,
    private readonly batchSize: number,
    private readonly intervalMs: number,
    private readonly scheduler: SchedulerLike,
  ) {}

  start(): void {
    this.untrack = this.deps.track(this);
    // exhaustMap: a sweep still running when the next tick comes is not
    // doubled up; the tick is dropped.
    this.subscription = timer(0, this.intervalMs, this.scheduler)
      .pipe(exhaustMap(() => fromTask(() => this.sweepOnce())))
      .subscribe((result) => this.report(result));
  }

  private sweepOnce(): Promise<E.Either<DbError, number>> {
    const running = sweep(this.deps, this.batchSize, () => !this.stopped)();
    this.inFlight = running;
    return running;
  }

  private report(result: E.Either<DbError, number>): void {
    pipe(
      result,
      E.fold(
        (error) =>
          this.deps.log.warn("retention sweep failed; trying again at the next interval", {
            error: messageOf(error.cause),
          }),
        (deleted) => {
          if (deleted > 0) this.deps.log.info("retention sweep deleted expired tasks", { deleted });
        },
      ),
    );
  }

  /** Stops the timer and waits for a sweep in flight, which ends after its current batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.subscription?.unsubscribe();
    await this.inFlight;
    this.untrack();
  }
}

/**
 * Starts sweeping expired finished tasks every `intervalMs` (see
 * {@link sweepExpired}); the first sweep runs at once. Run it in as many
 * processes as you like: their sweeps share the work. `underway.close()`
 * stops it too. Failed sweeps are logged and tried again at the next interval.
 *
 * @example
 * const retention = startRetention(underway, { intervalMs: 5 * 60_000 });
 * // …
 * await retention.stop();
 */
export const startRetention = (underway: Underway, options: RetentionOptions = {}): Stoppable => {
  checkOptionShape("startRetention options", options, retentionShape);
  const run = new RetentionRun(
    depsOf(underway),
    options.batchSize ?? defaultBatchSize,
    options.intervalMs ?? 60_000,
    options.scheduler ?? asyncScheduler,
  );
  run.start();
  return run;
};
