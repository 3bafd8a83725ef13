import { randomUUID } from "node:crypto";
import * as E from "fp-ts/lib/Either.js";
import type pg from "pg";
import { Observable, share, type Subscription, timer } from "rxjs";
import { messageOf } from "./errors.ts";
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
  readonly payloads$: Observable<string>;

  constructor(
    private readonly sql: Sql,
    private readonly pool: pg.Pool,
    private readonly listener: Listener,
    private readonly log: Logger,
  ) {
    const channel = `${sql.schema}.outcome`;
    this.payloads$ = new Observable<string>((subscriber) => {
      const notes = listener.channel$(channel).subscribe(subscriber);
      // Registered at once, so `ready()` right after subscribing covers it.
      this.registered = this.register();
      let renewal: Subscription | undefined = timer(ttlMs / 3, ttlMs / 3).subscribe(() => {
        this.registered = this.register();
      });
      return () => {
        notes.unsubscribe();
        renewal?.unsubscribe();
        renewal = undefined;
        void this.registered.then(() => this.unregister());
      };
    }).pipe(share());
  }

  /** Resolves once this process is registered and its LISTEN is active. */
  async ready(): Promise<void> {
    await Promise.all([this.registered, this.listener.ready(`${this.sql.schema}.outcome`)]);
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
