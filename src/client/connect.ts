import pg from "pg";
import { ConfigError, DatabaseError, UnderwayError, dbError } from "../errors.ts";
import { quoteSchema } from "../identifier.ts";
import { consoleLogger, type Logger } from "../log.ts";
import { migrate } from "../migrate.ts";
import { Listener, type ListenerOptions } from "../notify/listener.ts";
import type { Sql } from "../db/query.ts";
import { storeOf, type Store } from "../db/store.ts";
import { namedStatementsProbe } from "./namedStatementsProbe.ts";
import { readQueries } from "../sql.ts";
import { checkOptionShape } from "../optionShape.ts";
import { underwayOptionShape, type UnderwayOptions } from "./underwayOptions.ts";

/** What a client is built from: a migrated database's pool, its store, its LISTEN connection. */
export interface Connection {
  readonly pool: pg.Pool;
  /** The schema's statements, bound once for the client. */
  readonly store: Store;
  /** The schema underway lives in (its NOTIFY channels are `<schema>.<name>`). */
  readonly schema: string;
  readonly listener: Listener;
  readonly log: Logger;
  /** The pool was made here (from `connectionString`): the client ends it on close. */
  readonly ownsPool: boolean;
}

const passwordOf = (connectionString: string | undefined): string | undefined => {
  if (connectionString === undefined) return undefined;
  try {
    const password = decodeURIComponent(new URL(connectionString).password);
    return password === "" ? undefined : password;
  } catch {
    return undefined;
  }
};

/**
 * Where the LISTEN connection goes: its own settings, its own connection
 * string (a direct one when the pool goes through a pooler), else the pool's.
 */
const listenerConnection = (options: ListenerOptions | undefined, pool: pg.Pool): pg.ClientConfig => {
  if (options?.connectionString !== undefined) return { connectionString: options.connectionString };
  return options?.connection ?? pool.options;
};

/**
 * Checks the options, makes (or borrows) the pool, applies migrations
 * unless told not to, and sets up the LISTEN connection (it connects when
 * first subscribed). See `Underway.connect` for what it rejects with.
 */
export const connect = async (options: UnderwayOptions): Promise<Connection> => {
  checkOptionShape("Underway.connect", options, underwayOptionShape);
  const schema = options.schema ?? "underway";
  quoteSchema(schema);
  if ((options.pool === undefined) === (options.connectionString === undefined)) {
    throw new ConfigError(
      "Underway.connect needs exactly one of `pool` or `connectionString` (is DATABASE_URL set?)",
    );
  }
  if (options.listener?.connection !== undefined && options.listener.connectionString !== undefined)
    throw new ConfigError("listener takes one of `connection` or `connectionString`, not both");
  // A frozen server must not mean an unbounded hang: connects give up
  // after 10 s, queries after queryTimeoutMs (client side: a frozen server
  // cannot enforce its own statement_timeout).
  const queryTimeoutMs = options.queryTimeoutMs ?? 60_000;
  const pool =
    options.pool ??
    new pg.Pool({
      connectionString: options.connectionString,
      max: 10,
      connectionTimeoutMillis: 10_000,
      ...(queryTimeoutMs > 0 ? { query_timeout: queryTimeoutMs } : {}),
      keepAlive: true,
    });
  const log = options.logger ?? consoleLogger;
  // The pool reports errors of idle clients (a server restart); without a
  // listener they would crash the process.
  if (options.pool === undefined)
    pool.on("error", (error) => log.warn("idle pool client error", { error: error.message }));
  if (options.migrate !== false) {
    try {
      await migrate(pool, { schema });
    } catch (error) {
      if (options.pool === undefined) await pool.end().catch(() => undefined);
      if (error instanceof UnderwayError) throw error;
      throw new DatabaseError(dbError("connect", error), passwordOf(options.connectionString));
    }
  }
  // Unnamed statements usually mean a transaction-mode pooler, through
  // which LISTEN hears nothing: workers would run on polling alone.
  if (
    options.preparedStatements === false &&
    options.listener?.connection === undefined &&
    options.listener?.connectionString === undefined
  )
    log.warn(
      "preparedStatements: false without listener.connectionString: behind a transaction-mode pooler, LISTEN needs a direct connection (docs/scaling.md)",
    );
  const sql: Sql = {
    schema,
    queries: readQueries(schema),
    preparedStatements: options.preparedStatements !== false,
    onCollision: (error) => log.error(error.message),
  };
  // Named statements behind a transaction-mode pooler collide, and a
  // worker whose result write collides runs its task again: refused here
  // when the probe finds it, rather than found at the first collision.
  if (sql.preparedStatements === true) {
    const misconfigured = await namedStatementsProbe(sql, pool);
    if (misconfigured !== undefined) {
      if (options.pool === undefined) await pool.end().catch(() => undefined);
      throw misconfigured;
    }
  }
  const listener = new Listener(listenerConnection(options.listener, pool), log, options.listener);
  return {
    pool,
    store: storeOf(sql),
    schema,
    listener,
    log,
    ownsPool: options.pool === undefined,
  };
};
