// Type tests of the query catalogue (src/db/), checked by `npm run typecheck`
// and never run: each line after `@ts-expect-error` must fail to compile.
// A query's file, its parameter names, the store's method names and its
// callers' arguments are all checked by the compiler; what it cannot see (the list's length against
// the SQL's `$n`) test/queryCatalogue.test.ts checks.
import type * as TE from "fp-ts/lib/TaskEither.js";
import type pg from "pg";
import { defineQuery } from "../../src/db/query.ts";
import type { Store } from "../../src/db/store.ts";
import type { DbError } from "../../src/errors.ts";

interface Fenced {
  readonly ids: ReadonlyArray<string>;
  readonly attempts: ReadonlyArray<number>;
}

export const names = (): void => {
  defineQuery<Fenced>("tasksRelease", ["ids", "attempts"]);
  // @ts-expect-error a file db/queries/ does not have
  defineQuery<Fenced>("tasksRelaese", ["ids", "attempts"]);
  // @ts-expect-error a parameter the object does not have
  defineQuery<Fenced>("tasksRelease", ["ids", "attempt"]);
};

export const callers = (store: Store, pool: pg.Pool): void => {
  store.tasksComplete(pool, { ids: ["1"], attempts: [1], outputs: [null] });
  // @ts-expect-error a parameter left out
  store.tasksComplete(pool, { ids: ["1"], attempts: [1] });
  // @ts-expect-error a parameter of the wrong type
  store.tasksComplete(pool, { ids: [1], attempts: [1], outputs: [null] });
  // @ts-expect-error a statement db/queries/ does not have
  store.tasksCompleted(pool, { ids: ["1"], attempts: [1], outputs: [null] });
  // @ts-expect-error a branch template is part of a statement, not one
  store.opsTasksPairBranch(pool, {});
};

/** The snake_case keys of `T`, at any depth of its rows: never when all are camelCase. */
type SnakeKeys<T> = T extends Date | string | number | boolean | bigint | null | undefined | void
  ? never
  : T extends ReadonlyArray<infer E>
    ? SnakeKeys<E>
    : T extends object
      ? {
          [K in keyof T & string]-?: (K extends `${string}_${string}` ? K : never) | SnakeKeys<T[K]>;
        }[keyof T & string]
      : never;

/** What a store method's TaskEither gives. */
type ResultOf<M> = M extends (...args: never[]) => TE.TaskEither<DbError, infer A> ? A : never;

/** The store's methods whose result has a snake_case key somewhere. */
type SnakeResults = {
  [K in keyof Store]: [SnakeKeys<ResultOf<Store[K]>>] extends [never] ? never : K;
}[keyof Store];

/** Compiles only when its type argument is never. */
const none = <_T extends never>(): void => undefined;

// Rows are camelCase once they leave src/db/: a method whose declared rows
// keep a column's name fails to compile here, naming the method.
export const camelCaseResults = (): void => {
  none<SnakeResults>();
  // @ts-expect-error the check finds a snake_case key inside a row's array
  none<SnakeKeys<{ rows: ReadonlyArray<{ job_id: string }> }>>();
};
