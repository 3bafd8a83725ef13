import type * as T from "fp-ts/lib/Task.js";
import type * as TE from "fp-ts/lib/TaskEither.js";
import type * as E from "fp-ts/lib/Either.js";
import { defer, from, type Observable } from "rxjs";

/**
 * The one place a Task becomes an Observable: lazily, once per subscription.
 * For a TaskEither it emits the Either: errors stay values, never `error`.
 */
export const fromTask = <A>(task: T.Task<A>): Observable<A> => defer(() => from(task()));

export const fromTaskEither = <L, R>(task: TE.TaskEither<L, R>): Observable<E.Either<L, R>> => fromTask(task);
