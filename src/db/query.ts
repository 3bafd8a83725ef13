import * as TE from "fp-ts/lib/TaskEither.js";
import type pg from "pg";
import { dbError, type DbError } from "../errors.ts";
import type { Queries } from "../sql.ts";
import type { ConfigError } from "../errors.ts";
import { isNamedCollision, namedCollision } from "./namedStatements.ts";
import type { QueryName } from "./queryNames.ts";

/** Anything that runs a query: a pool, a pooled client, or the caller's client in a transaction. */
export interface Queryable {
  /** Runs one statement; underway passes named (prepared) queries. pg's `Pool` and `PoolClient` fit. */
  query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

/** The named queries of one schema, run as prepared statements unless `preparedStatements` is false. */
export interface Sql {
  readonly schema: string;
  readonly queries: Queries;
  /**
   * Named (prepared once per connection) statements, or unnamed ones that
   * are parsed on every run. Unnamed statements survive a transaction-mode
   * pooler, which hands each transaction a different server connection.
   * Set false by the client itself at the first collision of a named
   * statement (src/db/namedStatements.ts).
   */
  preparedStatements: boolean;
  /** Hears of the first collision of a named statement: the client logs it. */
  readonly onCollision: (error: ConfigError) => void;
}

/** What test/queryCatalogue.test.ts holds against the SQL files. */
export interface QueryEntry {
  /** The file of `db/queries/` this query runs. */
  readonly file: QueryName;
  /** Files spliced into `file`'s text as parts of a template; they belong to this entry alone. */
  readonly fragments: ReadonlyArray<QueryName>;
  /** The statement's parameter names: `$1` first, as the file names them (`:name`) or numbers them. */
  readonly params: ReadonlyArray<string>;
}

/**
 * One query of the catalogue, run as `query(sql, db, params)`: a
 * `TaskEither` of its result, a failure being a `DbError` named after the
 * file. `map` and `from` give the same query (same file, same parameters)
 * with its result reshaped or its parameters derived from others.
 */
export interface Query<P, A> extends QueryEntry {
  (sql: Sql, db: Queryable, params: P): TE.TaskEither<DbError, A>;
  /** The result reshaped: rows to ids, to the first row, to whether any came back. */
  map<B>(f: (result: A) => B): Query<P, B>;
  /** Callers' parameters turned into the statement's (a column list, the schema's channel names). */
  from<Q>(f: (params: Q, sql: Sql) => P): Query<Q, A>;
}

/**
 * The names of `P`'s fields in `$n` order: `$1` is the first. A name that
 * is not a field of `P` does not compile. The catalogue test checks the
 * list against the file: for a file written with `:names` (numbered at
 * load, src/queryText.ts), it must be those names in order of first
 * appearance; for one written with `$n`, as long as its highest `$n`.
 */
export type ParamOrder<P> = ReadonlyArray<keyof P & string>;

/** A query without parameters: call it with `{}`. */
export type NoParams = Readonly<Record<never, never>>;

const queryOf = <P, A>(
  entry: QueryEntry,
  exec: (sql: Sql, db: Queryable, params: P) => TE.TaskEither<DbError, A>,
): Query<P, A> =>
  Object.assign((sql: Sql, db: Queryable, params: P) => exec(sql, db, params), entry, {
    map: <B>(f: (result: A) => B): Query<P, B> =>
      queryOf(entry, (sql: Sql, db: Queryable, params: P) => TE.map(f)(exec(sql, db, params))),
    from: <Q>(f: (params: Q, sql: Sql) => P): Query<Q, A> =>
      queryOf(entry, (sql: Sql, db: Queryable, params: Q) => exec(sql, db, f(params, sql))),
  });

/**
 * A query whose statement `build` writes from its parameters: the base of
 * {@link defineQuery} and of the templates of ./filteredQuery.ts. Building
 * happens inside the `TaskEither`, so a bad template is a `DbError` too.
 */
export const statementQuery = <P, R extends pg.QueryResultRow>(
  entry: QueryEntry,
  build: (sql: Sql, params: P) => pg.QueryConfig,
): Query<P, ReadonlyArray<R>> =>
  queryOf(entry, (sql: Sql, db: Queryable, params: P) => {
    let named = false;
    return TE.tryCatch(
      async () => {
        const config = build(sql, params);
        named = config.name !== undefined;
        return (await db.query<R>(config)).rows;
      },
      (cause) => (named && isNamedCollision(cause) ? namedCollision(sql, entry.file, cause) : dbError(entry.file, cause)),
    );
  });

/** The parameters' values in `$n` order. */
export const valuesOf = <P>(order: ParamOrder<P>, params: P): unknown[] =>
  order.map((name) => params[name]);

/**
 * Defines a query of `db/queries/`: `P` its parameters by name, `order`
 * their `$n` positions, `R` a row. Run as a prepared statement named
 * `underway.<schema>.<file>` (the text differs per schema, so the name
 * must too) unless `sql.preparedStatements` is false.
 *
 * @example
 * const tasksRelease = defineQuery<{ ids: string[]; attempts: number[] }, { id: string }>(
 *   "tasksRelease",
 *   ["ids", "attempts"],
 * );
 */
export const defineQuery = <P, R extends pg.QueryResultRow = pg.QueryResultRow>(
  file: QueryName,
  order: ParamOrder<P>,
): Query<P, ReadonlyArray<R>> =>
  statementQuery<P, R>({ file, fragments: [], params: order }, (sql, params) => {
    const text = sql.queries[file];
    const values = valuesOf(order, params);
    return sql.preparedStatements
      ? { name: `underway.${sql.schema}.${file}`, text, values }
      : { text, values };
  });

/** Rows to their ids, for the writes that return the ids they wrote. */
export const idsOf = (rows: ReadonlyArray<{ readonly id: string }>): string[] => rows.map((row) => row.id);

/** Whether any row came back: a fenced write that matched. */
export const anyRow = (rows: ReadonlyArray<unknown>): boolean => rows.length > 0;

/** For statements run for their effect alone. */
export const nothing = (): void => undefined;
