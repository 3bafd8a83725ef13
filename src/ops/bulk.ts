import { inTransaction } from "../inTransaction.ts";
import * as E from "fp-ts/lib/Either.js";
import { ConfigError, DatabaseError, orThrow, type DbError } from "../errors.ts";
import { checkQueueName, quoteSchema } from "../identifier.ts";
import { checkOptionShape } from "../optionShape.ts";
import type { WhereFrom } from "../db/filteredQuery.ts";
import type { BatchRow } from "../db/opsQueries.ts";
import type { Queryable } from "../db/query.ts";
import type { OpsDeps } from "../client/clientDeps.ts";
import { badFilter, checkFilter, predicateOf, type CheckedFilter, type Predicate } from "./taskFilter.ts";
import type { BulkOptions, BulkResult, TaskState } from "./types.ts";

const checkBulk = (given: BulkOptions): { dryRun: boolean; batchSize: number; limit: number } => {
  const options = checkOptionShape("bulk options", given, {
    dryRun: "boolean",
    batchSize: "integer",
    limit: "integer",
  });
  // Past 2^53 an integer is no longer exact, and PostgreSQL's bigint
  // overflows soon after: no table holds that many tasks anyway.
  const positive = (value: number, what: string): number => {
    if (value < 1 || value > Number.MAX_SAFE_INTEGER)
      throw new ConfigError(
        `bulk options: ${what} must be an integer from 1 to 2^53-1, got ${String(value)}`,
      );
    return value;
  };
  return {
    dryRun: options.dryRun === true,
    batchSize: Math.min(positive(options.batchSize ?? 1_000, "batchSize"), 10_000),
    limit: options.limit === undefined ? Infinity : positive(options.limit, "limit"),
  };
};

/** The states an action applies to: those the filter names (all allowed), or its defaults. */
const statesFor = (
  action: string,
  filter: CheckedFilter,
  allowed: ReadonlyArray<TaskState>,
  defaults: ReadonlyArray<TaskState> = allowed,
): ReadonlyArray<TaskState> => {
  if (filter.states === null) return defaults;
  const refused = filter.states.filter((state) => !allowed.includes(state));
  if (refused.length > 0)
    throw badFilter(
      "state",
      `${action} applies to ${allowed.join(" and ")} tasks, not ${refused.join(", ")}`,
    );
  return filter.states;
};

/**
 * Runs an action batch after batch, each its own statement (and
 * transaction), walking up the ids so that rows skipped (locked by someone
 * else, or kept for their unique key) never make it loop.
 */
const inBatches = async (
  batchSize: number,
  limit: number,
  batch: (after: string, size: number) => Promise<BatchRow>,
): Promise<{ matched: number; changed: number }> => {
  let after = "0";
  let matched = 0;
  let changed = 0;
  while (matched < limit) {
    const size = Math.min(batchSize, limit - matched);
    const result = await batch(after, size);
    matched += result.matched;
    changed += result.changed;
    if (result.lastId === null || result.matched < size) break;
    after = result.lastId;
  }
  return { matched, changed };
};

const withExtra = (predicate: Predicate, extra: string): Predicate => ({
  text: `${predicate.text} and ${extra}`,
  values: predicate.values,
});

/** The shared shape of the four actions: validate, dry-run count, or batches. */
const bulk = async (
  deps: OpsDeps,
  filter: CheckedFilter,
  options: BulkOptions,
  extra: string | null,
  batch: (db: Queryable, where: WhereFrom, after: string, size: number) => Promise<BatchRow>,
): Promise<BulkResult> => {
  const { dryRun, batchSize, limit } = checkBulk(options);
  if (filter.ids !== null && filter.ids.length === 0) return { matched: 0, changed: 0, dryRun };
  const { store, pool } = deps;
  const schema = quoteSchema(deps.schema);
  const where = (first: number): Predicate => {
    const predicate = predicateOf(schema, filter, first);
    return extra === null ? predicate : withExtra(predicate, extra);
  };
  if (dryRun) {
    const rows = await orThrow(
      store.opsTasksCount(pool, { limit: Number.isFinite(limit) ? limit : null, where })(),
    );
    return { matched: rows[0]?.count ?? 0, changed: 0, dryRun };
  }
  const result = await inBatches(batchSize, limit, (after, size) => batch(pool, where, after, size));
  return { ...result, dryRun };
};

/** Failed and cancelled tasks back to pending; see {@link Ops.retry}. */
export const bulkRetry = async (deps: OpsDeps, given: unknown, options: BulkOptions): Promise<BulkResult> => {
  const checked = checkFilter(given);
  const filter = { ...checked, states: statesFor("retry", checked, ["failed", "cancelled"]) };
  return retryMatching(deps, filter, options, "retried", null);
};

/** Dead-lettered tasks back to their queues; see {@link Ops.redrive}. */
export const bulkRedrive = async (
  deps: OpsDeps,
  dlq: string,
  given: unknown,
  options: BulkOptions,
): Promise<BulkResult> => {
  checkQueueName(dlq);
  const checked = checkFilter(given);
  if (checked.queues !== null)
    throw badFilter("queue", "redrive takes the dead-letter queue as its first argument");
  const filter = { ...checked, queues: [dlq], states: statesFor("redrive", checked, ["failed"]) };
  return retryMatching(deps, filter, options, "redriven", "t.dlq_from is not null");
};

const retryMatching = (
  deps: OpsDeps,
  filter: CheckedFilter,
  options: BulkOptions,
  kind: "retried" | "redriven",
  extra: string | null,
): Promise<BulkResult> =>
  bulk(deps, filter, options, extra, async (db, where, after, size) => {
    // The statement skips a task whose unique key a live task holds, but
    // cannot see one an open transaction is enqueueing (or another retry is
    // moving back): it waits for that one to commit, then the index refuses
    // the whole batch. Run again, it sees the committed task and skips it.
    for (let attempt = 1; ; attempt++) {
      const result = await deps.store.opsTasksRetry(db, { after, size, kind, where })();
      if (E.isRight(result)) return result.right[0] ?? { lastId: null, matched: 0, changed: 0 };
      if (!isUniqueKeyRace(result.left) || attempt === maxRaceRetries) throw new DatabaseError(result.left);
    }
  });

// Each rerun follows a commit that took a key; more than this many in a row
// means something enqueues the same keys without pause, so say so.
const maxRaceRetries = 10;

// Read by shape, not instanceof: the application's pg may be another copy.
const isUniqueKeyRace = ({ cause }: DbError): boolean =>
  typeof cause === "object" &&
  cause !== null &&
  "code" in cause &&
  cause.code === "23505" &&
  "constraint" in cause &&
  cause.constraint === "task_unique_key_idx";

/** Pending tasks cancelled, running ones asked to stop; see {@link Ops.cancel}. */
export const bulkCancel = async (
  deps: OpsDeps,
  given: unknown,
  options: BulkOptions,
): Promise<BulkResult> => {
  const checked = checkFilter(given);
  const filter = { ...checked, states: statesFor("cancel", checked, ["pending", "in_progress"]) };
  const { store } = deps;
  const cancelBatch = async (db: Queryable, where: WhereFrom, after: string, size: number) => {
    const rows = await orThrow(store.opsTasksCancel(db, { after, size, where })());
    const row = rows[0];
    if (row === undefined) return { lastId: null, matched: 0, changed: 0 };
    // Running tasks are counted when their worker reports them cancelled.
    for (const { queue, cancelled } of row.changed) if (cancelled) deps.throughput.count(queue, "cancelled");
    return { lastId: row.lastId, matched: row.matched, changed: row.changed.length };
  };
  return bulk(deps, filter, options, null, async (pool, where, after, size) => {
    // A batch narrows a job's cancel to the batch's members: the job's
    // fan-out as a whole is not what was asked for, nor counted in the dry run.
    if (filter.jobId === null || filter.batchId !== null) return cancelBatch(pool, where, after, size);
    // As a job's cancel does: hold the job's lock so no step completing
    // meanwhile enqueues a next step this batch cannot see.
    const { jobId } = filter;
    return inTransaction(deps.pool, async (client) => {
      await orThrow(store.tasksLockJob(client, { jobId })());
      // A job waiting for the children of a fan-out has no live step: its
      // fan-out is cancelled (its live children, and its next step written
      // cancelled, each counted as changed), as job.cancel does.
      const queues = filter.queues;
      const waiting =
        queues === null || queues.length === 1
          ? await orThrow(store.fanOutsCancel(client, { jobId, queue: queues?.[0] ?? null })())
          : 0;
      const result = await cancelBatch(client, where, after, size);
      return { ...result, matched: result.matched + waiting, changed: result.changed + waiting };
    });
  });
};

/** Tasks deleted, finished ones unless the filter names others; see {@link Ops.delete}. */
export const bulkDelete = async (
  deps: OpsDeps,
  given: unknown,
  options: BulkOptions,
): Promise<BulkResult> => {
  const checked = checkFilter(given);
  const filter = {
    ...checked,
    states: statesFor(
      "delete",
      checked,
      ["pending", "in_progress", "succeeded", "cancelled", "failed"],
      ["succeeded", "cancelled", "failed"],
    ),
  };
  return bulk(deps, filter, options, null, async (db, where, after, size) => {
    const rows = await orThrow(deps.store.opsTasksDelete(db, { after, size, where })());
    return rows[0] ?? { lastId: null, matched: 0, changed: 0 };
  });
};
