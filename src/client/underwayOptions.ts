import type pg from "pg";
import { loggerRule, type Logger } from "../log.ts";
import type { OptionShape } from "../optionShape.ts";
import type { ListenerOptions } from "../notify/listener.ts";

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
  readonly schema?: string | undefined;
  /** Apply migrations on connect. Default true. */
  readonly migrate?: boolean | undefined;
  /** Where underway logs. Default: the console. */
  readonly logger?: Logger | undefined;
  /**
   * The LISTEN connection's settings. Behind a transaction-mode pooler
   * (PgBouncer), give it a direct `connectionString` to PostgreSQL: LISTEN
   * needs a session of its own. See docs/scaling.md.
   */
  readonly listener?: ListenerOptions | undefined;
  /**
   * Run underway's queries as named prepared statements (parsed once per
   * connection). Set false behind PgBouncer in transaction mode (before
   * 1.21's `max_prepared_statements`): a name prepared on one server
   * connection is unknown on the next, and two clients preparing it on one
   * collide. Default true. See docs/scaling.md for the cost. Left true
   * behind such a pooler, `connect` rejects with a `ConfigError` saying so
   * when its probe finds the pooler; otherwise the first collision rejects
   * the call that hit it with that error, is logged, and the client goes
   * on with unnamed statements.
   */
  readonly preparedStatements?: boolean | undefined;
  /**
   * For the pool underway makes (`connectionString`): how long a query may
   * wait for its answer before it fails with a `DatabaseError`, so a frozen
   * server is an error, not a hang. Default 60,000 ms; 0 waits forever.
   * Connecting gives up after 10 s. Your own `pool` keeps its own settings.
   */
  readonly queryTimeoutMs?: number | undefined;
}

/**
 * What `connect` takes, checked before anything connects. Closed: pg pool
 * settings are not passed through (give your own `pool` for those); only
 * `listener.connection` is a pg `ClientConfig`, handed to pg as it is.
 */
export const underwayOptionShape: OptionShape = {
  pool: {
    is: (value) =>
      typeof value === "object" &&
      value !== null &&
      typeof (value as pg.Pool).query === "function" &&
      typeof (value as pg.Pool).connect === "function",
    expected: "a pg.Pool",
  },
  connectionString: "string",
  schema: "string",
  migrate: "boolean",
  logger: loggerRule,
  listener: {
    shape: {
      checkIntervalMs: { type: "integer", min: 0, max: 2_147_483_647 },
      connection: "object",
      connectionString: "string",
    },
  },
  preparedStatements: "boolean",
  queryTimeoutMs: { type: "integer", min: 0, max: 2_147_483_647 },
};
