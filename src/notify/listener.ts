import type pg from "pg";
import pgListen, { type Subscriber } from "pg-listen";
import { Observable, Subject, share } from "rxjs";
import type { Logger } from "../log.ts";

/** Options of the process's LISTEN connection. */
export interface ListenerOptions {
  /** Interval of the liveness query that detects half-open connections. Default 5,000 ms. */
  readonly checkIntervalMs?: number;
  /**
   * Where the LISTEN connection goes, when not where the pool's connections
   * go: for example a pool behind a transaction-mode pooler (where LISTEN
   * cannot work) and this straight to PostgreSQL. Default: the pool's options.
   */
  readonly connection?: pg.ClientConfig;
  /**
   * Shorthand for `connection: { connectionString }`: a direct connection to
   * PostgreSQL for LISTEN when the pool goes through PgBouncer in transaction
   * mode. Not both.
   */
  readonly connectionString?: string;
}

// Backoff of retries of a first connect that failed.
const firstRetryMs = 250;
const maxRetryMs = 10_000;

/**
 * One LISTEN connection per client (process), shared by every queue: each
 * channel is an Observable, and so are reconnects. Notifications are hints;
 * if LISTEN cannot work, streams simply stay quiet and polling carries on.
 */
export class Listener {
  private subscriber: Subscriber | undefined;
  private starting: Promise<Subscriber | undefined> | undefined;
  private readonly notifications = new Subject<{ readonly channel: string; readonly payload: string }>();
  private readonly reconnects = new Subject<void>();
  private readonly refCounts = new Map<string, number>();
  private readonly streams = new Map<string, Observable<string>>();
  private readonly listening = new Map<string, Promise<void>>();
  // pg deprecates overlapping queries on one client: LISTEN/UNLISTEN go one at a time.
  private commands: Promise<unknown> = Promise.resolve();
  private closed = false;
  private warnedUnavailable = false;
  /** First connects that failed in a row; the retry of the next one waits longer. */
  private failedStarts = 0;
  private retry: NodeJS.Timeout | undefined;

  /** Emits after the connection was lost and re-established: notifications may have been missed. */
  readonly reconnected$: Observable<void> = this.reconnects.asObservable();

  constructor(
    private readonly connection: pg.ClientConfig,
    private readonly log: Logger,
    private readonly options: ListenerOptions = {},
  ) {}

  /**
   * Payloads of one channel; LISTENs on first subscriber, UNLISTENs after
   * the last. Completes when the listener closes.
   */
  channel$(channel: string): Observable<string> {
    const existing = this.streams.get(channel);
    if (existing !== undefined) return existing;
    const stream = new Observable<string>((observer) => {
      const sub = this.notifications.subscribe({
        next: (note) => {
          if (note.channel === channel) observer.next(note.payload);
        },
        complete: () => observer.complete(),
      });
      this.listening.set(channel, this.listen(channel));
      return () => {
        sub.unsubscribe();
        void this.unlisten(channel);
      };
    }).pipe(share());
    this.streams.set(channel, stream);
    return stream;
  }

  /**
   * Resolves once LISTEN on the channel is active (or known impossible), so
   * a caller can read state after it without missing a notification.
   */
  ready(channel: string): Promise<void> {
    return this.listening.get(channel) ?? Promise.resolve();
  }

  /** Resolves once every channel subscribed so far is LISTENed to. */
  async readyAll(): Promise<void> {
    await Promise.all(this.listening.values());
  }

  private async listen(channel: string): Promise<void> {
    this.refCounts.set(channel, (this.refCounts.get(channel) ?? 0) + 1);
    const subscriber = await this.start();
    if (subscriber === undefined || this.refCounts.get(channel) !== 1) return;
    try {
      await this.serially(() => subscriber.listenTo(channel));
    } catch (error) {
      this.log.warn(`LISTEN ${channel} failed; relying on polling`, { error });
    }
  }

  private async unlisten(channel: string): Promise<void> {
    const count = (this.refCounts.get(channel) ?? 1) - 1;
    this.refCounts.set(channel, count);
    if (count > 0 || this.subscriber === undefined || this.closed) return;
    this.refCounts.delete(channel);
    try {
      const subscriber = this.subscriber;
      await this.serially(() => subscriber.unlisten(channel));
    } catch {
      // The connection is going or gone; nothing is listening either way.
    }
  }

  private serially<A>(command: () => Promise<A> | undefined): Promise<A | undefined> {
    const result = this.commands.then(command, command);
    this.commands = result.catch(() => undefined);
    return result;
  }

  private start(): Promise<Subscriber | undefined> {
    // A closed listener opens nothing: a channel subscribed after close()
    // simply completes.
    if (this.closed) return Promise.resolve(undefined);
    this.starting ??= this.connect();
    return this.starting;
  }

  /**
   * A first connect that failed is tried again with backoff (polling carries
   * on meanwhile); once it succeeds, every channel with subscribers is
   * LISTENed to and `reconnected$` emits, as after any reconnect.
   */
  private retryLater(): void {
    if (this.closed) return;
    const delay = Math.min(maxRetryMs, firstRetryMs * 2 ** this.failedStarts);
    this.failedStarts += 1;
    this.retry = setTimeout(() => void this.restart(), delay);
  }

  private async restart(): Promise<void> {
    this.retry = undefined;
    this.starting = this.connect();
    const subscriber = await this.starting;
    if (subscriber === undefined || this.closed) return;
    this.log.info("LISTEN connection established; notifications resume", {
      failedAttempts: this.failedStarts,
    });
    this.failedStarts = 0;
    this.warnedUnavailable = false;
    for (const [channel, count] of this.refCounts) {
      if (count <= 0) continue;
      try {
        await this.serially(() => subscriber.listenTo(channel));
      } catch (error) {
        this.log.warn(`LISTEN ${channel} failed; relying on polling`, { error });
      }
    }
    this.reconnects.next();
  }

  private async connect(): Promise<Subscriber | undefined> {
    // pg-listen is CommonJS with `exports.default`: under ESM it sits on `.default`.
    const subscriber = pgListen.default(
      // A liveness query that hangs (half-open TCP) must fail, so pg-listen
      // reconnects; so must a connect that hangs (a partition), else the
      // reconnect loop waits on it forever and LISTEN never comes back.
      {
        ...this.connection,
        keepAlive: true,
        query_timeout: this.options.checkIntervalMs ?? 5_000,
        connectionTimeoutMillis: this.options.checkIntervalMs ?? 5_000,
      },
      {
        parse: (payload: string) => payload,
        paranoidChecking: this.options.checkIntervalMs ?? 5_000,
        retryInterval: (attempt: number) => {
          // pg-listen's reconnect loop does not stop on close(): a closed
          // client retrying forever (database down) would keep the process
          // alive. Throwing here ends the loop.
          if (this.closed) throw new Error("listener closed");
          return Math.min(5_000, 100 * 2 ** attempt);
        },
        retryTimeout: Number.MAX_SAFE_INTEGER,
      },
    );
    subscriber.events.on("notification", (note) => {
      if (typeof note.payload === "string")
        this.notifications.next({ channel: note.channel, payload: note.payload });
    });
    subscriber.events.on("reconnect", (attempt) => {
      this.log.warn("LISTEN connection lost; reconnecting", { attempt });
    });
    subscriber.events.on("connected", () => {
      // A reconnect that was under way when close() ran: close what it opened.
      if (this.closed) return void subscriber.close().catch(() => undefined);
      // After the first connect, every `connected` is a reconnect: tasks
      // enqueued meanwhile sent notifications no one heard.
      if (this.subscriber !== undefined) this.reconnects.next();
    });
    subscriber.events.on("error", (error) => {
      if (this.closed) return;
      this.log.error("LISTEN connection failed; workers continue on polling alone", { error: error.message });
    });
    try {
      await subscriber.connect();
      this.subscriber = subscriber;
      if (this.closed) await subscriber.close();
      return subscriber;
    } catch (error) {
      if (!this.warnedUnavailable) {
        this.warnedUnavailable = true;
        this.log.warn("LISTEN is unavailable; workers run on polling until it connects", {
          error: error instanceof Error ? error.message : String(error),
        });
      }
      // pg-listen would otherwise start its own reconnect loop on the failed
      // client, whose connection no one would ever close. Not awaited: ending
      // a client whose connect failed midway need not settle promptly.
      void subscriber.close().catch(() => undefined);
      this.retryLater();
      return undefined;
    }
  }

  /** Closes the connection, stops reconnecting and completes every channel. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.notifications.complete();
    this.reconnects.complete();
    const subscriber = await this.starting;
    if (subscriber !== undefined) await subscriber.close().catch(() => undefined);
  }
}
