// Type tests of the query catalogue (src/db/), checked by `npm run typecheck`
// and never run: each line after `@ts-expect-error` must fail to compile.
// A query's file, its parameter names and its callers' arguments are all
// checked by the compiler; what it cannot see (the list's length against
// the SQL's `$n`) test/queryCatalogue.test.ts checks.
import type pg from "pg";
import { tasksComplete } from "../../src/db/completeQueries.ts";
import { defineQuery, type Sql } from "../../src/db/query.ts";

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

export const callers = (sql: Sql, pool: pg.Pool): void => {
  tasksComplete(sql, pool, { ids: ["1"], attempts: [1], outputs: [null] });
  // @ts-expect-error a parameter left out
  tasksComplete(sql, pool, { ids: ["1"], attempts: [1] });
  // @ts-expect-error a parameter of the wrong type
  tasksComplete(sql, pool, { ids: [1], attempts: [1], outputs: [null] });
};
