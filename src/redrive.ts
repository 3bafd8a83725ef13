import * as TE from "fp-ts/lib/TaskEither.js";
import { checkOptionShape, type OptionShape } from "./optionShape.ts";
import { pipe } from "fp-ts/lib/function.js";
import { orThrow, type DbError } from "./errors.ts";
import { checkQueueName, checkTaskId } from "./identifier.ts";
import type { RedriveSelection } from "./db/taskQueries.ts";
import { depsOf, type Db } from "./client/clientDeps.ts";
import type { Underway } from "./underway.ts";

/** Which dead-lettered tasks to move; criteria combine (all must hold). */
export interface RedriveFilter {
  /** The task's last error contains this text, ignoring case. A plain substring, not a pattern. */
  readonly errorLike?: string;
  /** The task failed (was dead-lettered) before this time. */
  readonly failedBefore?: Date;
}

/** Options of {@link redrive}. Without `ids` or `filter`, every task of the dead-letter queue moves. */
export interface RedriveOptions {
  /** Only these tasks (ids of tasks in other queues are ignored). An empty list moves nothing. */
  readonly ids?: ReadonlyArray<string>;
  /** Only tasks matching these criteria. Default: no criteria. */
  readonly filter?: RedriveFilter;
  /** At most this many tasks, oldest failure first. Default: no limit. */
  readonly limit?: number;
  /** Tasks moved per statement. Default 1,000. */
  readonly batchSize?: number;
}

const redriveShape: OptionShape = {
  ids: "string[]",
  filter: { shape: { errorLike: "string", failedBefore: "Date" } },
  limit: { type: "integer", min: 1, max: Number.MAX_SAFE_INTEGER },
  batchSize: { type: "integer", min: 1, max: 2_147_483_647 },
};

const checkIds = (ids: ReadonlyArray<string>): ReadonlyArray<string> => {
  for (const id of ids) checkTaskId(id);
  return ids;
};

/**
 * Batches until one moves nothing (a task skipped for its unique key shortens
 * a batch without ending the work) or `remaining` reaches zero.
 */
const redriveBatches = (
  db: Db,
  dlq: string,
  selection: RedriveSelection,
  batchSize: number,
  remaining: number,
  movedSoFar: ReadonlyArray<string> = [],
): TE.TaskEither<DbError, ReadonlyArray<string>> =>
  remaining <= 0
    ? TE.right(movedSoFar)
    : pipe(
        db.store.tasksRedrive(db.pool, {
          dlq,
          ...selection,
          limit: Math.min(batchSize, remaining),
        }),
        TE.chain((ids) =>
          ids.length === 0
            ? TE.right(movedSoFar)
            : redriveBatches(db, dlq, selection, batchSize, remaining - ids.length, [...movedSoFar, ...ids]),
        ),
      );

/**
 * Moves failed tasks from a dead-letter queue back to the queue each came
 * from, to run again at once with a fresh retry budget (the `maxAttempts` of
 * the policy they were enqueued with). Attempt numbers go on counting rather
 * than restart, and each move is recorded in the task's history (see
 * {@link taskHistory}). Resolves with the ids moved, in id order.
 *
 * Tasks another redrive is moving at the same moment are skipped, so
 * concurrent redrives never move a task twice. A task whose unique key is
 * held by a live task of its queue stays in the dead-letter queue. Each
 * batch commits on its own: a redrive that fails midway keeps the batches
 * already moved.
 *
 * @example
 * const all = await redrive(underway, "email-dlq");
 * const some = await redrive(underway, "email-dlq", { ids: ["42", "43"] });
 * const smtp = await redrive(underway, "email-dlq", {
 *   filter: { errorLike: "smtp timeout", failedBefore: new Date() },
 *   limit: 100,
 * });
 */
export const redrive = async (
  underway: Underway,
  dlqName: string,
  options: RedriveOptions = {},
): Promise<ReadonlyArray<string>> => {
  checkOptionShape("redrive options", options, redriveShape);
  const dlq = checkQueueName(dlqName);
  const ids = options.ids === undefined ? null : checkIds(options.ids);
  if (ids !== null && ids.length === 0) return [];
  const selection: RedriveSelection = {
    ids,
    errorLike: options.filter?.errorLike ?? null,
    failedBefore: options.filter?.failedBefore ?? null,
  };
  const limit = options.limit ?? Infinity;
  const batchSize = options.batchSize ?? 1_000;
  const deps = depsOf(underway);
  const moved = await orThrow(
    redriveBatches(deps, dlq, selection, batchSize, Math.min(limit, ids?.length ?? Infinity))(),
  );
  deps.lifecycle.redriven(dlq, moved.length);
  return [...moved].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
};
