import type * as TE from "fp-ts/lib/TaskEither.js";
import type { DbError } from "../errors.ts";
import * as batchQueries from "./batchQueries.ts";
import * as claimQueries from "./claimQueries.ts";
import * as completeQueries from "./completeQueries.ts";
import * as enqueueQueries from "./enqueueQueries.ts";
import * as fanOutQueries from "./fanOutQueries.ts";
import * as groupQueries from "./groupQueries.ts";
import * as historyQueries from "./historyQueries.ts";
import * as leaseQueries from "./leaseQueries.ts";
import * as opsQueries from "./opsQueries.ts";
import type { Queryable, QueryEntry, Sql } from "./query.ts";
import { queryNames, branchNames, type StatementName } from "./queryNames.ts";
import * as queueQueries from "./queueQueries.ts";
import * as reportQueries from "./reportQueries.ts";
import * as scheduleQueries from "./scheduleQueries.ts";
import * as statsQueries from "./statsQueries.ts";
import * as taskQueries from "./taskQueries.ts";
import * as workerProcessQueries from "./workerProcessQueries.ts";

const statementNames: ReadonlySet<string> = new Set(
  queryNames.filter((name) => !(branchNames as ReadonlyArray<string>).includes(name)),
);

/** The statements a query file of src/db/ exports: its exports named after a file of db/queries/. */
type StatementsOf<M> = { readonly [K in keyof M as K extends StatementName ? K : never]: M[K] };

/**
 * A query file's statements. Each query is exported under its file's
 * name (test/queryCatalogue.test.ts checks it), so the name picks them
 * out from the helpers and row types beside them.
 */
const statementsOf = <M extends object>(module: M): StatementsOf<M> =>
  Object.fromEntries(Object.entries(module).filter(([name]) => statementNames.has(name))) as StatementsOf<M>;

/**
 * Every statement the library runs, by its file's name, gathered from the
 * query files. The {@link Store} type is read off this record, so a query
 * that is not in it has no method and cannot be called; `satisfies` makes
 * a statement file with no query a compile error, and
 * test/queryCatalogue.test.ts checks each key against its query's file.
 */
export const catalogue = {
  ...statementsOf(batchQueries),
  ...statementsOf(claimQueries),
  ...statementsOf(completeQueries),
  ...statementsOf(enqueueQueries),
  ...statementsOf(fanOutQueries),
  ...statementsOf(groupQueries),
  ...statementsOf(historyQueries),
  ...statementsOf(leaseQueries),
  ...statementsOf(opsQueries),
  ...statementsOf(queueQueries),
  ...statementsOf(reportQueries),
  ...statementsOf(scheduleQueries),
  ...statementsOf(statsQueries),
  ...statementsOf(taskQueries),
  ...statementsOf(workerProcessQueries),
} satisfies Readonly<Record<StatementName, QueryEntry>>;

/** The catalogue's record type: one query per statement. */
export type Catalogue = typeof catalogue;

/** A query of the catalogue as a method of the store: the same parameters and result, its `Sql` bound. */
export type StoreMethod<Q> = Q extends (sql: Sql, db: Queryable, params: infer P) => infer R
  ? (db: Queryable, params: P) => R
  : never;

/**
 * The whole database contract of the core: one method per statement, named
 * after its file of `db/queries/`, taking where to run it (the pool, a
 * pooled client, the caller's transaction) and its parameters by name, and
 * giving a `TaskEither` of its result with rows already camelCase.
 *
 * @example
 * const claimed = await store.tasksClaim(pool, { queue: "emails", limit: 10, workerId })();
 */
export type Store = { readonly [K in keyof Catalogue]: StoreMethod<Catalogue[K]> };

/** What every method of a store is, seen without its own parameter and result types. */
type AnyMethod = (db: Queryable, params: unknown) => TE.TaskEither<DbError, unknown>;

/** A query of the catalogue seen without its own parameter and result types. */
type AnyQuery = (sql: Sql, db: Queryable, params: unknown) => TE.TaskEither<DbError, unknown>;

/**
 * The store of one client: every statement of the catalogue bound to its
 * `sql` (schema, texts, whether statements are named). Built once per client
 * (and once per probe at connect); it holds no state of its own, so two
 * clients' stores never meet.
 */
export const storeOf = (sql: Sql): Store => {
  const methods: Record<string, AnyMethod> = {};
  for (const [name, query] of Object.entries(catalogue) as Array<[string, AnyQuery]>)
    methods[name] = (db, params) => query(sql, db, params);
  // Each method above takes and returns what its query does: the cast only
  // restores the per-name types that iterating the record erased.
  return Object.freeze(methods) as unknown as Store;
};
