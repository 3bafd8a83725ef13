import * as E from "fp-ts/lib/Either.js";
import type * as t from "io-ts";
import pg from "pg";
import { DatabaseError, UnderwayError, type DbError } from "./errors.ts";
import { quoteSchema } from "./identifier.ts";
import { consoleLogger, type Logger } from "./log.ts";
import { migrate } from "./migrate.ts";
import { queuesUpsert, type Sql } from "./queries.ts";
import { Queue, type QueueDefinition } from "./queue.ts";
import { readQueries } from "./sql.ts";
import { Listener, type ListenerOptions } from "./worker/listener.ts";
import { OutcomeFeed } from "./outcomeFeed.ts";

/** How to reach PostgreSQL and where underway's tables live. */
export interface UnderwayOptions {
  /** Your pool; underway never ends it. Either this or `connectionString`. */
  readonly pool?: pg.Pool | undefined;
  /**
   * underway makes (and ends on `close`) its own pool. `| undefined` so that
   * `connectionString: process.env.DATABASE_URL` compiles under
   * `exactOptionalPropertyTypes`; left undefined, `connect` rejects.
   */
  readonly connectionString?: string | undefined;
  /** Schema of underway's tables. Default `underway`. */
  readonly schema?: string;
  /** Apply migrations on connect. Default true. */
  readonly migrate?: boolean;
  readonly logger?: Logger;
  readonly listener?: ListenerOptions;
}

/** Anything that stops when asked (workers, schedulers). */
export interface Stoppable {
  stop(): Promise<void>;
}

/** Turns an internal Either into a Promise that rejects with a `DatabaseError`. */
export const orThrow = async <A>(result: Promise<E.Either<DbError, A>>): Promise<A> => {
  const either = await result;
  if (E.isLeft(either)) throw new DatabaseError(either.left);
  return either.right;
};

/**
 * The client: owns the pool (or borrows yours), the process's one LISTEN
 * connection, and every worker started through it. No module-level state:
 * two clients in one process are independent.
 *
 * @example
 * const underway = await Underway.connect({ connectionString: process.env.DATABASE_URL });
 * const queue = await underway.queue({ name: "email", input: WelcomeEmail });
 */
export class Underway {
  private readonly running = new Set<Stoppable>();
  private closing: Promise<void> | undefined;

  private constructor(
    readonly pool: pg.Pool,
    /** @internal The named queries, bound to this client's schema. */
    readonly sql: Sql,
    /** @internal The process's LISTEN connection. */
    readonly listener: Listener,
    readonly log: Logger,
    private readonly ownsPool: boolean,
  ) {
    this.outcomeFeed = new OutcomeFeed(sql, pool, listener, log);
  }

  /** @internal Outcome notifications, shared by every outcome stream of this client. */
  readonly outcomeFeed: OutcomeFeed;

  static async connect(options: UnderwayOptions): Promise<Underway> {
    const schema = options.schema ?? "underway";
    quoteSchema(schema);
    if ((options.pool === undefined) === (options.connectionString === undefined)) {
      throw new RangeError("Underway.connect needs exactly one of `pool` or `connectionString`");
    }
    const pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: 10 });
    const log = options.logger ?? consoleLogger;
    // The pool reports errors of idle clients (a server restart); without a
    // listener they would crash the process.
    if (options.pool === undefined)
      pool.on("error", (error) => log.warn("idle pool client error", { error: error.message }));
    if (options.migrate !== false) await migrate(pool, { schema });
    const listener = new Listener(options.listener?.connection ?? pool.options, log, options.listener);
    return new Underway(
      pool,
      { schema, queries: readQueries(schema) },
      listener,
      log,
      options.pool === undefined,
    );
  }

  /** Defines (and registers in the database) a queue and its dead-letter queue. */
  async queue<C extends t.Mixed>(definition: QueueDefinition<C>): Promise<Queue<t.TypeOf<C>, t.OutputOf<C>>> {
    const queue = Queue.define(definition);
    if (queue.dlq !== null) await orThrow(queuesUpsert(this.sql, this.pool, queue.dlq, null)());
    await orThrow(queuesUpsert(this.sql, this.pool, queue.name, queue.dlq)());
    return queue;
  }

  /** @internal Workers register here so `close()` can stop them. */
  track(worker: Stoppable): () => void {
    if (this.closing !== undefined) throw new UnderwayError("this Underway client is closed");
    this.running.add(worker);
    return () => this.running.delete(worker);
  }

  /**
   * Resolves once the LISTEN of every stream subscribed so far is active:
   * subscribe to `outcomes$`, await this, and nothing that happens after is
   * missed.
   */
  async listening(): Promise<void> {
    await Promise.all([this.listener.readyAll(), this.outcomeFeed.ready()]);
  }

  /**
   * Stops the workers of a queue in every process (NOTIFY on
   * `<schema>.shutdown`): each stops claiming and finishes its in-flight
   * tasks. A process whose LISTEN connection is down at that moment misses it.
   */
  async shutdownQueue(queue: string): Promise<void> {
    await this.pool.query("select pg_notify($1, $2)", [`${this.sql.schema}.shutdown`, queue]);
  }

  /**
   * Opt-in: on SIGTERM or SIGINT, close gracefully (workers finish in-flight
   * tasks within their grace period), then exit 0. A second signal exits at
   * once with status 1. Returns a function that removes the handlers.
   */
  stopOnSignals(
    options: { readonly signals?: ReadonlyArray<NodeJS.Signals>; readonly exit?: boolean } = {},
  ): () => void {
    const signals = options.signals ?? ["SIGTERM", "SIGINT"];
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(1);
      stopping = true;
      this.log.warn(`${signal} received: stopping workers gracefully (send again to exit at once)`);
      void this.close().then(
        () => {
          if (options.exit !== false) process.exit(0);
        },
        (error: unknown) => {
          this.log.error("graceful shutdown failed", { error: String(error) });
          process.exit(1);
        },
      );
    };
    for (const signal of signals) process.on(signal, onSignal);
    return () => {
      for (const signal of signals) process.off(signal, onSignal);
    };
  }

  /** Stops every worker gracefully, then closes the LISTEN connection and an owned pool. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await Promise.all([...this.running].map((worker) => worker.stop()));
    await this.listener.close();
    if (this.ownsPool) {
      await this.pool.end();
      // end() resolves before the sockets finish closing; a server going
      // away meanwhile is no news any more.
      this.pool.removeAllListeners("error");
      this.pool.on("error", () => undefined);
    }
  }
}
