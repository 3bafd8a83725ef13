import { ConfigError, type DbError } from "../errors.ts";
import type { Sql } from "./query.ts";

// 42P05 duplicate_prepared_statement: the server session already holds the
// name, so another client prepared it there. 26000 invalid_sql_statement_name:
// pg prepared it on this connection, yet the session running the statement
// has never seen it. Underway's clients never deallocate, so either means
// two clients share server sessions: a transaction-mode pooler.
const collisionCodes = new Set(["42P05", "26000"]);

/** Whether pg's error says a named statement met another session's (or none). */
export const isNamedCollision = (cause: unknown): boolean =>
  typeof cause === "object" &&
  cause !== null &&
  "code" in cause &&
  typeof cause.code === "string" &&
  collisionCodes.has(cause.code);

/** What a client rejects with (and logs) when named statements collide. */
export const namedStatementsError = (cause: unknown): ConfigError =>
  new ConfigError(
    `underway's named prepared statements collide (${cause instanceof Error ? cause.message : String(cause)}): ` +
      "the pool goes through a transaction-mode pooler such as PgBouncer, which hands each transaction " +
      "another server connection. Connect with `preparedStatements: false` (see docs/scaling.md).",
    { cause },
  );

/**
 * A named statement of `operation` collided: the client's statements go
 * unnamed from now on, so the writes still in flight (a worker's results)
 * land when retried instead of being lost, which would run their tasks
 * again; `sql.onCollision` hears of it once. Transient, so writes that
 * retry do; the call that collided rejects with the `ConfigError`.
 */
export const namedCollision = (sql: Sql, operation: string, cause: unknown): DbError => {
  const error = namedStatementsError(cause);
  if (sql.preparedStatements) {
    sql.preparedStatements = false;
    sql.onCollision(error);
  }
  return { _tag: "DbError", operation, cause: error, transient: true };
};
