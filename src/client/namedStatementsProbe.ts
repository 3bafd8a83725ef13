import * as E from "fp-ts/lib/Either.js";
import pg from "pg";
import { ConfigError, type DbError } from "../errors.ts";
import type { Sql } from "../db/query.ts";
import { storeOf } from "../db/store.ts";

/** pg's client keeps the pid the server announced at connect (BackendKeyData); untyped in @types/pg. */
const announcedPid = (client: pg.ClientBase): unknown =>
  (client as unknown as { processID?: unknown }).processID;

/**
 * Finds, at connect, a pool behind a pooler that cannot take named
 * statements (PgBouncer in transaction mode before 1.21's
 * `max_prepared_statements`), and returns the error to reject with;
 * undefined when none was found. See docs/design/pooler-detection.md.
 *
 * A direct connection runs its statements in the process whose pid it was
 * told at connect: one query, done. Otherwise a pooler is in between: the
 * probe statement is prepared on one connection, then on a second one made
 * with the pool's settings. In transaction mode PgBouncer hands the second
 * the server session the first just released (its idle list is LIFO), where
 * the name already exists: 42P05. In session mode, or with a pooler that
 * keeps names apart, both run. A probe that cannot run finds nothing: the
 * first collision at run time still says so (src/db/namedStatements.ts).
 */
export const namedStatementsProbe = async (sql: Sql, pool: pg.Pool): Promise<ConfigError | undefined> => {
  // A collision comes back as the ConfigError that says so (src/db/namedStatements.ts).
  const collided = (result: E.Either<DbError, unknown>): ConfigError | undefined =>
    E.isLeft(result) && result.left.cause instanceof ConfigError ? result.left.cause : undefined;
  // Its own store, on its own Sql: a collision here is the finding, not one to log or to switch the
  // client's statements for.
  const probe = storeOf({
    schema: sql.schema,
    queries: sql.queries,
    preparedStatements: true,
    onCollision: () => undefined,
  });
  let first: pg.PoolClient | undefined;
  let second: pg.Client | undefined;
  try {
    first = await pool.connect();
    const own = await probe.backendPid(first, {})();
    if (E.isLeft(own)) return collided(own);
    if (own.right[0]?.pid === announcedPid(first)) return undefined;
    second = new pg.Client(pool.options);
    second.on("error", () => undefined);
    await second.connect();
    return collided(await probe.backendPid(second, {})());
  } catch {
    return undefined;
  } finally {
    first?.release();
    await second?.end().catch(() => undefined);
  }
};
