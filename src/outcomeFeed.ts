import { randomUUID } from "node:crypto";
import * as E from "fp-ts/lib/Either.js";
import type pg from "pg";
import { merge, Observable, share, Subject, Subscription, timer } from "rxjs";
import { ClosedError, messageOf } from "./errors.ts";
import type { Logger } from "./log.ts";
import { outcomeListenersDelete, outcomeListenersUpsert, type Sql } from "./queries.ts";
import type { Listener } from "./worker/listener.ts";

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
  private closed = false;
  readonly payloads$: Observable<string>;

  constructor(
    private readonly sql: Sql,
    private readonly pool: pg.Pool,
    private readonly listener: Listener,
    private readonly log: Logger,
  ) {
    const channel = `${sql.schema}.outcome`;
    this.payloads$ = new Observable<string>((subscriber) => {
      if (this.closed) {
        subscriber.error(new ClosedError());
        return;
      }
      const subscriptions = new Subscription();
      subscriptions.add(listener.channel$(channel).subscribe(subscriber));
      // close() completes every outcome stream, which ends this subscription.
      subscriptions.add(this.closing.subscribe(() => subscriber.complete()));
      // Registered at once, so `ready()` right after subscribing covers it.
      this.registered = this.register();
      // Renewed on a timer, and at once after a reconnect of the LISTEN
      // connection: a server that crashed lost the (unlogged) registration,
      // and until it is back no outcome is sent to anyone.
      subscriptions.add(
        merge(timer(ttlMs / 3, ttlMs / 3), listener.reconnected$).subscribe(() => {
          this.registered = this.register();
        }),
      );
      return () => {
        subscriptions.unsubscribe();
        this.unregistered = this.registered.then(() => this.unregister());
      };
    }).pipe(share());
  }

  /** Resolves once this process is registered and its LISTEN is active. */
  async ready(): Promise<void> {
    await Promise.all([this.registered, this.listener.ready(`${this.sql.schema}.outcome`)]);
  }

  /** Completes every outcome stream and resolves once the registration is deleted. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.next();
    this.closing.complete();
    await this.unregistered;
  }

  private async register(): Promise<void> {
    const result = await outcomeListenersUpsert(this.sql, this.pool, this.listenerId, ttlMs)();
    if (E.isLeft(result)) {
      this.log.warn("could not register for outcome notifications; outcome waits fall back to reading rows", {
        error: messageOf(result.left.cause),
      });
    }
  }

  private async unregister(): Promise<void> {
    const result = await outcomeListenersDelete(this.sql, this.pool, this.listenerId)();
    if (E.isLeft(result)) {
      // Harmless: the registration lapses by itself.
      this.log.info("could not unregister from outcome notifications", {
        error: messageOf(result.left.cause),
      });
    }
  }
}
