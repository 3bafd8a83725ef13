import * as TE from "fp-ts/lib/TaskEither.js";
import { pipe } from "fp-ts/lib/function.js";
import type { DbError } from "../errors.ts";
import type { Successes } from "../db/completeQueries.ts";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import { isFanOut, type Continuation, type FanOutWrite } from "../db/fanOutQueries.ts";
import type { Queryable } from "../db/query.ts";
import type { Store } from "../db/store.ts";
import { retryTransient } from "../retry.ts";

/**
 * Where the record stage writes a success (./record.ts talks to nothing
 * else for one): the task's next state, fenced by the attempt, and a job's
 * next step in the same statement. A worker groups them
 * (./completions.ts); runOnce and drain write each at once
 * ({@link inlineCompleter}).
 */
export interface Completer {
  /** Right(true) if written; Right(false) when fenced off (no longer this attempt's). */
  complete(
    id: string,
    attempt: number,
    output: string | null,
    next: Continuation | undefined,
  ): TE.TaskEither<DbError, boolean>;
}

/**
 * The one statement that writes successes: with their job's next steps
 * (one row of `next` per success) or without. Not retried here.
 */
export const writeSuccesses = (
  store: Store,
  db: Queryable,
  successes: Successes,
  next: EnqueueColumns | undefined,
): TE.TaskEither<DbError, ReadonlyArray<string>> =>
  next === undefined
    ? store.tasksComplete(db, successes)
    : store.tasksCompleteAndContinue(db, { ...successes, sourceIds: successes.ids, next });

/**
 * A step's success that fans out, with its children and the batch that
 * waits for them, in one statement of its own (tasksCompleteAndFanOut):
 * one per fan-out, as each carries a list of children. Not retried here.
 * Right(true) if written.
 */
export const writeFanOut = (
  store: Store,
  db: Queryable,
  id: string,
  attempt: number,
  output: string | null,
  fanOut: FanOutWrite,
): TE.TaskEither<DbError, boolean> =>
  pipe(
    store.tasksCompleteAndFanOut(db, { id, attempt, output, fanOut }),
    TE.map((row) => row !== undefined),
  );

/**
 * One statement per success, sent at once: for runOnce and drain, whose
 * loops each wait for their write before claiming again, so there is
 * nothing to group (what a batching completer does for an idle worker).
 */
export const inlineCompleter = (store: Store, db: Queryable): Completer => ({
  complete: (id, attempt, output, next) =>
    next !== undefined && isFanOut(next)
      ? retryTransient(writeFanOut(store, db, id, attempt, output, next))
      : pipe(
          retryTransient(
            writeSuccesses(store, db, { ids: [id], attempts: [attempt], outputs: [output] }, next),
          ),
          TE.map((written) => written.includes(id)),
        ),
});
