import { randomUUID } from "node:crypto";
import * as E from "fp-ts/lib/Either.js";
import type pg from "pg";
import {
  EMPTY,
  from,
  merge,
  mergeMap,
  Observable,
  of,
  share,
  Subject,
  Subscription,
  timer,
  type Subscriber,
} from "rxjs";
import { ClosedError, messageOf, type DbError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { decodeJsonText } from "../codec.ts";
import { decodeOutcomePayload, type OutcomeSource } from "../outcomes.ts";
import type { TaskRow } from "../db/taskQueries.ts";
import { retryTransient } from "../retry.ts";
import type { Listener } from "./listener.ts";
import type { Store } from "../db/store.ts";

// A registration lapses this long after its last renewal; renewed at a third.
const ttlMs = 60_000;

/**
 * The raw outcome notifications of one client, shared by all its outcome
 * streams. While anything is subscribed, the process is registered in
 * `outcome_listener`, without which the database sends no outcome NOTIFYs.
 */
export class OutcomeFeed {
  readonly listenerId = randomUUID();
  /** Settles once the registration is committed (or failed, logged). */
  private registered: Promise<void> = Promise.resolve();
  /** Settles once the last unsubscribe deleted the registration. */
  private unregistered: Promise<void> = Promise.resolve();
  private readonly closing = new Subject<void>();
  /** Subscriptions of `payloads$` and `progressPayloads$` open now (0 to 2: each is shared). */
  private subscribed = 0;
  private closed = false;
  readonly payloads$: Observable<string>;
  /** Progress notifications (`<schema>.progress`, see db/queries/taskProgressSet.sql), raw. */
  readonly progressPayloads$: Observable<string>;
  /**
   * Every outcome notification, parsed and checked once per client however
   * many streams and waiters there are; a truncated payload (output or error
   * too large for NOTIFY) is completed from the row, read once.
   */
  readonly sources$: Observable<OutcomeSource>;
  private readonly waiters = new Map<string, Set<Subscriber<OutcomeSource>>>();
  /** Row reads asked for in this event-loop turn, sent as one statement. */
  private reads = new Map<string, Array<(row: E.Either<DbError, TaskRow | undefined>) => void>>();
  private readScheduled = false;
  private waiting: Subscription | undefined;

  constructor(
    private readonly store: Store,
    /** The schema: outcomes are NOTIFYed on `<schema>.outcome`. */
    private readonly schema: string,
    private readonly pool: pg.Pool,
    private readonly listener: Listener,
    private readonly log: Logger,
  ) {
    this.payloads$ = this.registered$(`${schema}.outcome`);
    this.progressPayloads$ = this.registered$(`${schema}.progress`);
    this.sources$ = this.payloads$.pipe(
      mergeMap((text) => this.sourceOf(text)),
      share(),
    );
  }

  /**
   * One channel's notifications, shared; while anything is subscribed to it
   * (or to another such channel), the process is registered in
   * `outcome_listener`, without which the database sends none.
   */
  private registered$(channel: string): Observable<string> {
    return new Observable<string>((subscriber) => {
      if (this.closed) {
        subscriber.error(new ClosedError());
        return;
      }
      const subscriptions = new Subscription();
      subscriptions.add(this.listener.channel$(channel).subscribe(subscriber));
      // close() completes every outcome stream, which ends this subscription.
      subscriptions.add(this.closing.subscribe(() => subscriber.complete()));
      // Registered at once, so `ready()` right after subscribing covers it,
      // but after the delete of an unsubscribe just before (an unsubscribe
      // and a subscribe in one tick): the delete must not land after the
      // insert, or no outcome would be sent while this one listens.
      this.subscribed += 1;
      this.registered = this.unregistered.then(() => this.register());
      // Renewed on a timer, and at once after a reconnect of the LISTEN
      // connection: a server that crashed lost the (unlogged) registration,
      // and until it is back no outcome is sent to anyone.
      subscriptions.add(
        merge(timer(ttlMs / 3, ttlMs / 3), this.listener.reconnected$).subscribe(() => {
          this.registered = this.register();
        }),
      );
      return () => {
        subscriptions.unsubscribe();
        this.subscribed -= 1;
        // Deleted only if nothing subscribed again meanwhile.
        this.unregistered = this.registered.then(() =>
          this.subscribed === 0 ? this.unregister() : undefined,
        );
      };
    }).pipe(share());
  }

  private sourceOf(text: string): Observable<OutcomeSource> {
    const payload = decodeJsonText(decodeOutcomePayload)(text);
    if (E.isLeft(payload)) {
      this.log.warn("ignored an outcome notification that is not underway's", {
        payload: text.slice(0, 200),
      });
      return EMPTY;
    }
    const source = payload.right;
    if (source.truncated !== true) return of(source as OutcomeSource);
    // A failed read must not end the stream for every subscriber: it is
    // retried while transient, then logged; waiters still find the outcome
    // by reading the row themselves.
    return from(retryTransient(this.store.tasksGet(this.pool, { id: source.id }))()).pipe(
      mergeMap((read) => {
        if (E.isLeft(read)) {
          this.log.error("could not read a finished task whose outcome was too large to notify", {
            taskId: source.id,
            error: messageOf(read.left.cause),
          });
          return EMPTY;
        }
        const row = read.right;
        return row === undefined ? EMPTY : of({ ...row, state: source.state, attempt: source.attempt });
      }),
    );
  }

  /**
   * Notifications of one task (or one job run's steps, keyed by job id), from
   * one map shared by every waiter: a notification costs one look-up, however
   * many `result()` calls wait.
   */
  for$(key: string): Observable<OutcomeSource> {
    return new Observable<OutcomeSource>((subscriber) => {
      let set = this.waiters.get(key);
      if (set === undefined) {
        set = new Set();
        this.waiters.set(key, set);
      }
      set.add(subscriber);
      this.waiting ??= this.sources$.subscribe({
        next: (source) => {
          for (const id of [source.id, source.jobId]) {
            if (typeof id !== "string") continue;
            for (const waiter of this.waiters.get(id) ?? []) waiter.next(source);
          }
        },
        error: (error: unknown) => this.endWaiters((waiter) => waiter.error(error)),
        complete: () => this.endWaiters((waiter) => waiter.complete()),
      });
      return () => {
        set.delete(subscriber);
        if (set.size === 0) this.waiters.delete(key);
        if (this.waiters.size === 0) {
          const waiting = this.waiting;
          this.waiting = undefined;
          waiting?.unsubscribe();
        }
      };
    });
  }

  private endWaiters(end: (waiter: Subscriber<OutcomeSource>) => void): void {
    const all = [...this.waiters.values()].flatMap((set) => [...set]);
    this.waiters.clear();
    this.waiting = undefined;
    for (const waiter of all) end(waiter);
  }

  /**
   * Reads a task row for a waiter's fallback poll. Reads asked for in one
   * event-loop turn go out as one statement (by chunks of 1,000 ids), so
   * thousands of `result()` calls polling at once cost a few queries, not
   * thousands queued for the pool.
   */
  read(id: string): Promise<E.Either<DbError, TaskRow | undefined>> {
    return new Promise((done) => {
      const pending = this.reads.get(id);
      if (pending === undefined) this.reads.set(id, [done]);
      else pending.push(done);
      if (!this.readScheduled) {
        this.readScheduled = true;
        setImmediate(() => void this.flushReads());
      }
    });
  }

  private async flushReads(): Promise<void> {
    const batch = this.reads;
    this.reads = new Map();
    this.readScheduled = false;
    const ids = [...batch.keys()];
    for (let start = 0; start < ids.length; start += 1_000) {
      const chunk = ids.slice(start, start + 1_000);
      const result = await this.store.tasksGetMany(this.pool, { ids: chunk })();
      const rows = E.map((found: ReadonlyArray<TaskRow>) => new Map(found.map((row) => [row.id, row])))(
        result,
      );
      for (const id of chunk)
        for (const done of batch.get(id) ?? [])
          done(E.map((byId: Map<string, TaskRow>) => byId.get(id))(rows));
    }
  }

  /** Resolves once this process is registered and its LISTEN is active. */
  async ready(): Promise<void> {
    await Promise.all([
      this.registered,
      this.listener.ready(`${this.schema}.outcome`),
      this.listener.ready(`${this.schema}.progress`),
    ]);
  }

  /** Completes every outcome stream and resolves once the registration is deleted. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.next();
    this.closing.complete();
    await this.unregistered;
  }

  private async register(): Promise<void> {
    const result = await this.store.outcomeListenersUpsert(this.pool, {
      listenerId: this.listenerId,
      ttlMs,
    })();
    if (E.isLeft(result)) {
      this.log.warn("could not register for outcome notifications; outcome waits fall back to reading rows", {
        error: messageOf(result.left.cause),
      });
    }
  }

  private async unregister(): Promise<void> {
    const result = await this.store.outcomeListenersDelete(this.pool, { listenerId: this.listenerId })();
    if (E.isLeft(result)) {
      // Harmless: the registration lapses by itself.
      this.log.info("could not unregister from outcome notifications", {
        error: messageOf(result.left.cause),
      });
    }
  }
}
