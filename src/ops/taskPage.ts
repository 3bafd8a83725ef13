import { ConfigError, orThrow } from "../errors.ts";
import { checkOptionShape } from "../optionShape.ts";
import type { Underway } from "../underway.ts";
import { decodeCursor, encodeCursor, type ListOrder } from "./cursor.ts";
import { schemaOf } from "../db/filteredQuery.ts";
import { opsQueueNames, opsTasksByPair, opsTasksPlain, type SummaryRow } from "../db/opsQueries.ts";
import { checkFilter, predicateOf, type CheckedFilter } from "./taskFilter.ts";
import { taskStates, type ListOptions, type TaskPage, type TaskState, type TaskSummary } from "./types.ts";

const checkList = (given: ListOptions): { limit: number; order: ListOrder; after: string | null } => {
  const options = checkOptionShape("list options", given, {
    limit: "integer",
    after: "string",
    order: "string",
  });
  const limit = options.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000)
    throw new ConfigError(`limit must be an integer from 1 to 1000, got ${String(limit).slice(0, 40)}`);
  const order = options.order ?? "newest";
  if (order !== "newest" && order !== "oldest")
    throw new ConfigError(
      `order must be "newest" or "oldest", got ${JSON.stringify(String(order).slice(0, 40))}`,
    );
  const after = options.after === undefined ? null : decodeCursor(options.after, order);
  return { limit, order, after };
};

const summaryOf = ({ sort_id: _sortId, ...row }: SummaryRow): TaskSummary => row;

/**
 * Narrow filters (ids, a job, a concurrency key) are read off their own
 * index, and a list of every task (at most a time range) off the primary
 * key; everything else walks (queue, state) ranges of
 * task_queue_state_idx in id order and merges them.
 */
const isNarrow = (filter: CheckedFilter): boolean =>
  filter.ids !== null ||
  filter.jobId !== null ||
  filter.concurrencyKey !== null ||
  // Nothing to narrow by: the primary key in id order is the whole list.
  (filter.queues === null &&
    filter.states === null &&
    filter.errorLike === null &&
    filter.inputContains === null);

/**
 * Every write that makes a task succeed clears its error (tasksComplete,
 * tasksCompleteAndClaim, tasksCompleteAndContinue, tasksCompleteLeased), so
 * an error search never walks the succeeded ranges: usually most of the
 * table, and never a match.
 */
const statesToWalk = (filter: CheckedFilter): ReadonlyArray<TaskState> => {
  const states = filter.states ?? taskStates;
  return filter.errorLike === null ? states : states.filter((state) => state !== "succeeded");
};

/** One keyset page of tasks; see {@link Ops.tasks}. */
export const taskPage = async (
  underway: Underway,
  filter: unknown,
  options: ListOptions,
): Promise<TaskPage> => {
  const checked = checkFilter(filter);
  const { limit, order, after } = checkList(options);
  if (checked.ids !== null && checked.ids.length === 0) return { tasks: [], next: null };
  const { sql, pool } = underway;
  const schema = schemaOf(sql);
  // Without a queue, every queue that has tasks (one index probe each).
  const queues = isNarrow(checked) ? [] : (checked.queues ?? (await orThrow(opsQueueNames(sql, pool, {})())));
  if (!isNarrow(checked) && (queues.length === 0 || statesToWalk(checked).length === 0))
    return { tasks: [], next: null };
  // One row more than the page tells whether another page follows.
  const rows = isNarrow(checked)
    ? await orThrow(
        opsTasksPlain(sql, pool, {
          after,
          rows: limit + 1,
          where: (first) => predicateOf(schema, checked, first),
          order,
        })(),
      )
    : await orThrow(
        opsTasksByPair(sql, pool, {
          after,
          rows: limit + 1,
          where: (first) => predicateOf(schema, checked, first, false),
          order,
          queues,
          states: statesToWalk(checked),
        })(),
      );
  const tasks = rows.slice(0, limit).map(summaryOf);
  const last = tasks[tasks.length - 1];
  return { tasks, next: rows.length > limit && last !== undefined ? encodeCursor(order, last.id) : null };
};
