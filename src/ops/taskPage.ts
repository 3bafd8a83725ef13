import { ConfigError, orThrow } from "../errors.ts";
import { checkOptionShape } from "../optionShape.ts";
import type { Db, FilteredDb } from "../client/clientDeps.ts";
import { quoteSchema } from "../identifier.ts";
import { decodeCursor, encodeCursor, type ListOrder } from "./cursor.ts";
import { checkFilter, hasTrigram, predicateOf, type CheckedFilter } from "./taskFilter.ts";
import { taskStates, type ListOptions, type TaskPage, type TaskState, type TaskSummary } from "./types.ts";

/** The most tasks a bounded search reads per call unless told otherwise; see {@link ListOptions.searchRows}. */
export const defaultSearchRows = 100_000;

interface CheckedList {
  readonly limit: number;
  readonly order: ListOrder;
  readonly after: string | null;
  readonly searchRows: number;
}

const checkList = (given: ListOptions): CheckedList => {
  const options = checkOptionShape("list options", given, {
    limit: "integer",
    after: "string",
    order: "string",
    searchRows: "integer",
  });
  const limit = options.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000)
    throw new ConfigError(`limit must be an integer from 1 to 1000, got ${String(limit).slice(0, 40)}`);
  const order = options.order ?? "newest";
  if (order !== "newest" && order !== "oldest")
    throw new ConfigError(
      `order must be "newest" or "oldest", got ${JSON.stringify(String(order).slice(0, 40))}`,
    );
  const searchRows = options.searchRows ?? defaultSearchRows;
  if (!Number.isInteger(searchRows) || searchRows < 1 || searchRows > 1_000_000)
    throw new ConfigError(
      `searchRows must be an integer from 1 to 1000000, got ${String(searchRows).slice(0, 40)}`,
    );
  const after = options.after === undefined ? null : decodeCursor(options.after, order);
  return { limit, order, after, searchRows };
};

/**
 * Narrow filters (ids, a job, a batch, a concurrency key) are read off their own
 * index, and a list of every task (at most a time range) off the primary
 * key; everything else walks (queue, state) ranges of
 * task_queue_state_idx in id order and merges them.
 */
const isNarrow = (filter: CheckedFilter): boolean =>
  filter.ids !== null ||
  filter.jobId !== null ||
  filter.batchId !== null ||
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

/**
 * How a page is read:
 * - `plain`: one query in id order off the index the filter names (ids,
 *   job, key) or the primary key (no filter);
 * - `indexed`: an error pattern with a trigram across every queue, where
 *   the trigram index exists: a short bounded walk of the newest tasks
 *   (common recent matches fill the page there), then the rest off the
 *   index;
 * - `pairs`: (queue, state) ranges of task_queue_state_idx merged, when
 *   queues are named;
 * - `walk`: across every queue with a criterion no index narrows (input,
 *   an error pattern without a trigram or without the index): a bounded
 *   walk of the primary key, at most `searchRows` rows a call.
 */
type Plan = "plain" | "pairs" | "walk" | "indexed";

const planOf = async (deps: Db, filter: CheckedFilter): Promise<Plan> => {
  if (isNarrow(filter)) return "plain";
  if (filter.queues !== null) return "pairs";
  if (filter.errorLike !== null && hasTrigram(filter.errorLike)) {
    const indexed = await orThrow(deps.store.opsErrorIndex(deps.pool, {})());
    if (indexed) return "indexed";
  }
  return filter.errorLike !== null || filter.inputContains !== null ? "walk" : "pairs";
};

const pageOf = (tasks: ReadonlyArray<TaskSummary>, more: boolean, order: ListOrder): TaskPage => {
  const last = tasks[tasks.length - 1];
  return { tasks, next: more && last !== undefined ? encodeCursor(order, last.id) : null };
};

/**
 * A bounded walk: rows past `limit` matches mean a full page with more to
 * come; otherwise the marker (the last row read, when the walk read all it
 * was allowed) is where the next call goes on, and the page says so.
 */
const walkPage = async (deps: FilteredDb, filter: CheckedFilter, list: CheckedList): Promise<TaskPage> => {
  const { limit, order, after, searchRows } = list;
  const schema = quoteSchema(deps.schema);
  const rows = await orThrow(
    deps.store.opsTasksWalk(deps.pool, {
      after,
      rows: limit + 1,
      budget: searchRows,
      where: (first) => predicateOf(schema, filter, first),
      order,
    })(),
  );
  const hits = rows.filter((row) => row.hit === true).map((row) => row.task);
  if (hits.length > limit) return pageOf(hits.slice(0, limit), true, order);
  const marker = rows.find((row) => row.n === searchRows);
  if (marker === undefined) return pageOf(hits, false, order);
  return { tasks: hits, next: encodeCursor(order, marker.task.id), searched: searchRows };
};

/**
 * Rows the walk ahead of an index search reads (or `searchRows`, if
 * fewer): enough for a common match
 * to fill a page (a match in 1 of 200 rows fills 50), few enough to cost a
 * few milliseconds when it does not.
 */
const walkBeforeIndex = 10_000;

/**
 * Neither plan alone is safe: the planner, seeing a common pattern, walks
 * the primary key, and reads most of the table when the matches are all
 * old; reading every match off the index and sorting them costs as many
 * rows as there are matches, too many for a common one. So a short walk
 * first, and the index only for what the walk did not reach.
 */
const indexedPage = async (deps: FilteredDb, filter: CheckedFilter, list: CheckedList): Promise<TaskPage> => {
  const { limit, order } = list;
  const walked = await walkPage(deps, filter, {
    ...list,
    searchRows: Math.min(list.searchRows, walkBeforeIndex),
  });
  if (walked.searched === undefined) return walked;
  const { next, searched: _searched, ...page } = walked;
  const wanted = limit - page.tasks.length;
  const rows = await orThrow(
    deps.store.opsTasksIndexed(deps.pool, {
      after: next === null ? null : decodeCursor(next, order),
      rows: wanted + 1,
      where: (first) => predicateOf(quoteSchema(deps.schema), filter, first),
      order,
    })(),
  );
  return pageOf([...page.tasks, ...rows.slice(0, wanted)], rows.length > wanted, order);
};

/** One keyset page of tasks; see {@link Ops.tasks}. */
export const taskPage = async (
  deps: FilteredDb,
  filter: unknown,
  options: ListOptions,
): Promise<TaskPage> => {
  const checked = checkFilter(filter);
  const list = checkList(options);
  const { limit, order, after } = list;
  if (checked.ids !== null && checked.ids.length === 0) return { tasks: [], next: null };
  const { store, pool } = deps;
  const schema = quoteSchema(deps.schema);
  const plan = await planOf(deps, checked);
  if (plan === "walk") return walkPage(deps, checked, list);
  if (plan === "indexed") return indexedPage(deps, checked, list);
  // Without a queue, every queue that has tasks (one index probe each).
  const queues = plan === "plain" ? [] : (checked.queues ?? (await orThrow(store.opsQueueNames(pool, {})())));
  if (plan === "pairs" && (queues.length === 0 || statesToWalk(checked).length === 0))
    return { tasks: [], next: null };
  // One row more than the page tells whether another page follows.
  const rows =
    plan === "plain"
      ? await orThrow(
          store.opsTasksPlain(pool, {
            after,
            rows: limit + 1,
            where: (first) => predicateOf(schema, checked, first),
            order,
          })(),
        )
      : await orThrow(
          store.opsTasksByPair(pool, {
            after,
            rows: limit + 1,
            where: (first) => predicateOf(schema, checked, first, false),
            order,
            queues,
            states: statesToWalk(checked),
          })(),
        );
  return pageOf(rows.slice(0, limit), rows.length > limit, order);
};
