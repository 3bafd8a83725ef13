import type { Db } from "../client/clientDeps.ts";
import * as E from "fp-ts/lib/Either.js";
import * as TE from "fp-ts/lib/TaskEither.js";
import { pipe } from "fp-ts/lib/function.js";
import type pg from "pg";
import type { CheckedInput } from "../enqueue/checkInput.ts";
import { dbError, type DbError } from "../errors.ts";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import type { Schedulable } from "./schedule.ts";

/** What firing a tick came to: this scheduler enqueued it, another had, or the schedule changed meanwhile. */
export type Fired =
  | { readonly _tag: "Claimed"; readonly taskId: string | null }
  | { readonly _tag: "Taken" }
  | { readonly _tag: "Outdated" };

const withTransaction = <A>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => TE.TaskEither<DbError, A>,
): TE.TaskEither<DbError, A> => {
  const statement = (client: pg.PoolClient, text: string) =>
    TE.tryCatch(
      () => client.query(text),
      (cause) => dbError(text, cause),
    );
  return TE.bracket(
    TE.tryCatch(
      () => pool.connect(),
      (cause) => dbError("connect", cause),
    ),
    (client) =>
      pipe(
        statement(client, "begin"),
        TE.chain(() => work(client)),
        TE.chainFirst(() => statement(client, "commit")),
        TE.orElse((error) =>
          pipe(
            statement(client, "rollback"),
            TE.chain(() => TE.left(error)),
          ),
        ),
      ),
    // A client whose transaction failed may be broken: destroy it rather than
    // hand it to the next user of the pool.
    (client, result) => TE.fromIO(() => client.release(E.isLeft(result) ? true : undefined)),
  );
};

/**
 * Claims the tick of schedule `version` and enqueues its task, in one
 * transaction: the unique (schedule, tick) key makes exactly one scheduler
 * of all processes enqueue it.
 */
export const fireTick = <In, V>(
  db: Db,
  job: Schedulable<In, V>,
  version: string,
  input: CheckedInput<V>,
  tick: Date,
): TE.TaskEither<DbError, Fired> => {
  const { store, pool } = db;
  const queue = job.queue;
  return pipe(
    TE.fromEither(
      E.tryCatch(
        (): EnqueueColumns => job.columnsOf([input], undefined),
        (cause) => dbError("columnsOf", cause),
      ),
    ),
    TE.chain((columns) =>
      withTransaction(pool, (client) =>
        pipe(
          store.scheduleTicksInsert(client, { queue, version, tickAt: tick }),
          TE.chain((claim): TE.TaskEither<DbError, Fired> => {
            if (claim.version !== version) return TE.right({ _tag: "Outdated" });
            if (!claim.claimed) return TE.right({ _tag: "Taken" });
            return pipe(
              store.tasksEnqueue(client, { queue, columns, trace: null }),
              TE.chain((rows) => {
                const taskId = rows[0]?.id ?? null;
                if (taskId === null) return TE.right<DbError, Fired>({ _tag: "Claimed", taskId });
                return pipe(
                  store.scheduleTicksSetTask(client, { queue, tickAt: tick, taskId }),
                  TE.map((): Fired => ({ _tag: "Claimed", taskId })),
                );
              }),
            );
          }),
        ),
      ),
    ),
  );
};
