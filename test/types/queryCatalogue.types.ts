// Type tests of the query catalogue (src/db/), checked by `npm run typecheck`
// and never run: each line after `@ts-expect-error` must fail to compile.
// A query's file, its parameter names, the store's method names and its
// callers' arguments are all checked by the compiler; what it cannot see (the list's length against
// the SQL's `$n`) test/queryCatalogue.test.ts checks.
import type pg from "pg";
import { defineQuery } from "../../src/db/query.ts";
import type { Store } from "../../src/db/store.ts";

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
