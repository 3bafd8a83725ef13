import type pg from "pg";
import type { ListOrder } from "../ops/cursor.ts";
import type { Predicate } from "../ops/taskFilter.ts";
import type { TaskState } from "../ops/types.ts";
import type { QueryName } from "./queryNames.ts";
import { statementQuery, valuesOf, type ParamOrder, type Query } from "./query.ts";

/**
 * A filter's WHERE condition, its values numbered from `first` on. The
 * query passes `first`: one past its own parameters, so no caller counts
 * them.
 */
export type WhereFrom = (first: number) => Predicate;

/** What a filtered query takes besides its own parameters. */
export interface Filtered {
  readonly where: WhereFrom;
  /** Fills `{{after}}` and `{{direction}}`; default oldest first. */
  readonly order?: ListOrder;
}

const fill = (template: string, predicate: Predicate, order: ListOrder): string =>
  template
    .replaceAll("{{where}}", `(${predicate.text})`)
    .replaceAll("{{after}}", order === "newest" ? "<" : ">")
    .replaceAll("{{direction}}", order === "newest" ? "desc" : "asc");

/**
 * A query of `db/queries/` whose WHERE clause is built from a filter:
 * `{{where}}` becomes the filter's fixed fragments (values stay bind
 * parameters, after the query's own), `{{after}}`/`{{direction}}` the list
 * order. Unnamed, so each call is planned for its own values: a generic
 * plan could not tell a filter with a job id from one without.
 */
export const defineFilteredQuery = <P, R extends pg.QueryResultRow>(
  file: QueryName,
  names: ParamOrder<P>,
): Query<P & Filtered, ReadonlyArray<R>> =>
  statementQuery<P & Filtered, R>({ file, fragments: [], params: names }, (sql, params) => {
    const predicate = params.where(names.length + 1);
    return {
      text: fill(sql.queries[file], predicate, params.order ?? "oldest"),
      values: [...valuesOf(names, params), ...predicate.values],
    };
  });

/** A page of tasks merged from (queue, state) pairs. */
export interface PairParams {
  /** The cursor's id; null: from the start. */
  readonly after: string | null;
  readonly rows: number;
  /** The filter without its queues and states, which the pairs hold. */
  readonly where: WhereFrom;
  readonly order: ListOrder;
  readonly queues: ReadonlyArray<string>;
  readonly states: ReadonlyArray<TaskState>;
}

/** A template's text without its comment lines, which would repeat in every branch. */
const withoutComments = (text: string): string =>
  text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("--"))
    .join("\n");

/**
 * A page merged from one `branch` per (queue, state) pair, joined into
 * `file`: `$1` the cursor's id, `$2` the rows wanted, then the filter's
 * values, then each queue and each state once. Unnamed, so every branch is
 * planned for its pair.
 */
export const definePairQuery = <R extends pg.QueryResultRow>(
  file: QueryName,
  branch: QueryName,
): Query<PairParams, ReadonlyArray<R>> => {
  const names: ParamOrder<PairParams> = ["after", "rows"];
  return statementQuery<PairParams, R>({ file, fragments: [branch], params: names }, (sql, params) => {
    const { order, queues, states } = params;
    const predicate = params.where(names.length + 1);
    const direction = order === "newest" ? "desc" : "asc";
    const firstQueue = names.length + 1 + predicate.values.length;
    const queueParam = (index: number) => `$${firstQueue + index}`;
    const stateParam = (index: number) => `$${firstQueue + queues.length + index}`;
    const pair = fill(withoutComments(sql.queries[branch]), predicate, order);
    const branches = queues.flatMap((_, q) =>
      states.map((_, s) => pair.replaceAll("{{queue}}", queueParam(q)).replaceAll("{{state}}", stateParam(s))),
    );
    const text = withoutComments(sql.queries[file])
      .replace("{{branches}}", branches.join("\nunion all\n"))
      .replaceAll("{{direction}}", direction);
    return { text, values: [...valuesOf(names, params), ...predicate.values, ...queues, ...states] };
  });
};
