import * as TE from "fp-ts/lib/TaskEither.js";
import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import type { DbError } from "../errors.ts";
import type { ClaimedRow } from "../db/claimQueries.ts";
import { isFanOut, type Continuation } from "../db/fanOutQueries.ts";
import type { Queryable } from "../db/query.ts";
import { retryTransient } from "../retry.ts";
import { writeFanOut, writeSuccesses, type Completer } from "./completer.ts";
import { concatColumns } from "../enqueue/concatColumns.ts";
import type { Store } from "../db/store.ts";

interface Pending {
  readonly id: string;
  readonly attempt: number;
  readonly output: string | null;
  /** A job's next step, enqueued in the same statement (one row), or a fan-out (a statement of its own). */
  readonly next: Continuation | undefined;
  readonly done: (written: E.Either<DbError, boolean>) => void;
}

/** A claim a worker sends along with a write of its successes. */
export interface ClaimAlong {
  readonly queue: string;
  readonly workerId: string;
  /**
   * Tasks to claim, asked when the statement is sent rather than when the
   * claim was asked for: successes written meanwhile have freed room.
   */
  readonly want: () => number;
  /** How many keyed tasks of the claim start now (the rest are claimed unstarted; see tasksClaim); asked with `want`. */
  readonly startable: () => number;
  /** Called once with what the claim brought, before the written completions resolve. */
  readonly deliver: (claimed: E.Either<DbError, Claimed>) => void;
}

/** What a claim brought, and how many it asked for. */
export interface Claimed {
  readonly rows: ReadonlyArray<ClaimedRow>;
  readonly wanted: number;
}

/**
 * The worker's {@link Completer}, a group commit for successes: while one write is in flight, completions
 * queue up and go out together in the next statement. An idle worker writes
 * at once (no added latency); a busy one writes in batches of up to `max`.
 * A claim made while a write is under way rides in the next statement
 * (claimWith, tasksCompleteAndClaim): a busy worker then spends one round
 * trip and one commit per batch of tasks, not two.
 */
export class Completions implements Completer {
  private queue: Pending[] = [];
  private writing = false;
  /** A claim to send with the next statement, even one without successes. */
  private pendingClaim: ClaimAlong | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly store: Store,
    private readonly db: Queryable,
    private readonly max = 500,
  ) {}

  /** Right if written; `false` when fenced off (no longer this attempt's). */
  complete(
    id: string,
    attempt: number,
    output: string | null,
    next: Continuation | undefined,
  ): TE.TaskEither<DbError, boolean> {
    // Rare, and each with a list of children: written at once, on its own.
    if (next !== undefined && isFanOut(next))
      return retryTransient(writeFanOut(this.store, this.db, id, attempt, output, next));
    return () =>
      new Promise((done) => {
        this.queue.push({ id, attempt, output, next, done });
        void this.flush();
      });
  }

  /**
   * While a write is under way, the claim rides in the next statement and
   * this resolves with what it claimed; otherwise (or when a claim already
   * waits) undefined, and the caller claims by itself.
   */
  claimWith(claim: Omit<ClaimAlong, "deliver">): Promise<E.Either<DbError, Claimed>> | undefined {
    if (!this.writing || this.pendingClaim !== undefined) return undefined;
    return new Promise((deliver) => (this.pendingClaim = { ...claim, deliver }));
  }

  /** Resolves when nothing is queued or being written. */
  idle(): Promise<void> {
    if (!this.writing && this.queue.length === 0) return Promise.resolve();
    return new Promise((done) => this.idleWaiters.push(done));
  }

  /** Writes successes together with a claim; falls back to a plain write if the statement fails. */
  private async writeClaiming(batch: ReadonlyArray<Pending>, claim: ClaimAlong): Promise<void> {
    const wanted = claim.want();
    if (wanted <= 0) {
      // Full since it asked: it claims again once tasks end.
      claim.deliver(E.right({ rows: [], wanted: 0 }));
      return this.write(batch, false);
    }
    // Not retried: a statement that committed but whose reply was lost would
    // claim a second batch, and the first would wait out its leases. A failure
    // falls back to the plain write below, which retries.
    const result = await this.store.tasksCompleteAndClaim(this.db, {
      ids: batch.map((item) => item.id),
      attempts: batch.map((item) => item.attempt),
      outputs: batch.map((item) => item.output),
      queue: claim.queue,
      limit: wanted,
      workerId: claim.workerId,
      startable: claim.startable(),
    })();
    claim.deliver(
      pipe(
        result,
        E.map((written) => ({ rows: written.claimed, wanted })),
      ),
    );
    // A failed statement claimed nothing (or its claim is lost with the
    // reply); the successes still need writing, with the retries and the
    // isolation of a plain write.
    if (E.isLeft(result)) return this.write(batch, false);
    const written = new Set(result.right.completed);
    for (const item of batch) item.done(E.right(written.has(item.id)));
  }

  private async write(batch: ReadonlyArray<Pending>, continuing: boolean): Promise<void> {
    if (batch.length === 0) return;
    const statement = writeSuccesses(
      this.store,
      this.db,
      {
        ids: batch.map((item) => item.id),
        attempts: batch.map((item) => item.attempt),
        outputs: batch.map((item) => item.output),
      },
      continuing
        ? concatColumns(
            batch.flatMap((item) => (item.next === undefined || isFanOut(item.next) ? [] : [item.next])),
          )
        : undefined,
    );
    const result = await retryTransient(statement)();
    // Isolation: a statement that fails for good because of one row (a value
    // a trigger rejects, a row locked past lock_timeout) must not cost the
    // other rows their results. Halve the batch until the failure is one row's.
    if (E.isLeft(result) && batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      await this.write(batch.slice(0, half), continuing);
      await this.write(batch.slice(half), continuing);
      return;
    }
    if (E.isLeft(result)) {
      for (const item of batch) item.done(result);
      return;
    }
    const written = new Set(result.right);
    for (const item of batch) item.done(E.right(written.has(item.id)));
  }

  private async flush(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    while (this.queue.length > 0 || this.pendingClaim !== undefined) {
      const batch = this.queue.slice(0, this.max);
      this.queue = this.queue.slice(batch.length);
      const claim = this.pendingClaim;
      this.pendingClaim = undefined;
      const plain = batch.filter((item) => item.next === undefined);
      const continuing = batch.filter((item) => item.next !== undefined);
      await Promise.all([
        claim === undefined ? this.write(plain, false) : this.writeClaiming(plain, claim),
        this.write(continuing, true),
      ]);
      // Lets the tasks just claimed start, and the successes that came in
      // meanwhile join the queue, so the next statement carries them all.
      await new Promise((done) => setImmediate(done));
    }
    this.writing = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
