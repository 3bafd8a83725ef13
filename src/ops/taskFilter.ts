import { ValidationError } from "../errors.ts";
import { checkBatchId, checkJobId, checkQueueName, checkTaskId } from "../identifier.ts";
import { jsonProblem } from "../json.ts";
import { closestKey } from "../optionShape.ts";
import { storableRange, storableTime } from "./storableTime.ts";
import { taskStates, type TaskFilter, type TaskState } from "./types.ts";

/** A filter after validation: each criterion null when left out. */
export interface CheckedFilter {
  readonly queues: ReadonlyArray<string> | null;
  readonly states: ReadonlyArray<TaskState> | null;
  readonly ids: ReadonlyArray<string> | null;
  readonly jobId: string | null;
  readonly batchId: string | null;
  readonly concurrencyKey: string | null;
  readonly errorLike: string | null;
  /** The JSON text of `inputContains`. */
  readonly inputContains: string | null;
  readonly createdAfter: Date | null;
  readonly createdBefore: Date | null;
}

const knownKeys = new Set([
  "queue",
  "state",
  "ids",
  "jobId",
  "batchId",
  "concurrencyKey",
  "errorLike",
  "inputContains",
  "createdAfter",
  "createdBefore",
]);

/** A `ValidationError` naming the filter field that was wrong. */
export const badFilter = (field: string, message: string): ValidationError =>
  new ValidationError("invalid task filter", {
    _tag: "DecodeError",
    paths: [field],
    message: `${field}: ${message}`,
  });

const listOf = <A>(value: A | ReadonlyArray<A>): ReadonlyArray<A> =>
  Array.isArray(value) ? (value as ReadonlyArray<A>) : [value as A];

const checkText = (field: string, value: unknown, max: number): string => {
  if (
    typeof value !== "string" ||
    value.length === 0 ||
    value.length > max ||
    value.includes("\u0000") ||
    !value.isWellFormed()
  )
    throw badFilter(
      field,
      `expected a non-empty string of at most ${max} characters without NUL or lone surrogates`,
    );
  return value;
};

const checkDate = (field: string, value: unknown): Date => {
  if (!storableTime(value)) throw badFilter(field, `expected a valid Date ${storableRange}`);
  return value;
};

/**
 * The most queues one filter names. Each becomes its own index range scan
 * (and 20,000 took 14.5 s, then overflowed PostgreSQL's stack); more than a
 * thousand is not a filter anyone means.
 */
export const maxFilterQueues = 1_000;

const checkQueues = (value: unknown): ReadonlyArray<string> => {
  const queues = listOf(value);
  if (queues.length === 0) throw badFilter("queue", "expected a queue name or a non-empty list of them");
  if (queues.length > maxFilterQueues)
    throw badFilter("queue", `at most ${maxFilterQueues} queues, got ${queues.length}`);
  const checked = queues.map((queue) => {
    // A number would pass the name pattern as its digits.
    if (typeof queue !== "string") throw badFilter("queue", `expected a queue name, got ${typeof queue}`);
    try {
      return checkQueueName(queue);
    } catch (error) {
      throw badFilter("queue", (error as Error).message);
    }
  });
  return [...new Set(checked)];
};

const checkStates = (value: unknown): ReadonlyArray<TaskState> => {
  const states = listOf(value);
  if (states.length === 0) throw badFilter("state", "expected a state or a non-empty list of them");
  for (const state of states)
    if (!taskStates.includes(state as TaskState))
      throw badFilter(
        "state",
        `expected one of ${taskStates.join(", ")}, got ${JSON.stringify(String(state).slice(0, 40))}`,
      );
  return [...new Set(states as ReadonlyArray<TaskState>)];
};

const checkIds = (value: unknown): ReadonlyArray<string> => {
  if (!Array.isArray(value)) throw badFilter("ids", "expected a list of task ids");
  return (value as ReadonlyArray<unknown>).map((id) => {
    try {
      return checkTaskId(id as string);
    } catch (error) {
      throw badFilter("ids", (error as Error).message);
    }
  });
};

const checkJson = (value: unknown): string => {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw badFilter("inputContains", (error as Error).message);
  }
  if (text === undefined || value === null || typeof value !== "object")
    throw badFilter("inputContains", "expected a JSON object or array, such as { userId: 42 }");
  // Checked on the values, not the text: a NUL and a lone surrogate (which
  // jsonb refuses) are found wherever they are, and a string that merely
  // spells the escape (a backslash, then u0000) is left alone.
  const problem = jsonProblem(value);
  if (problem !== undefined)
    throw badFilter(
      problem.path === "(root)" ? "inputContains" : `inputContains.${problem.path}`,
      problem.message,
    );
  return text;
};

/**
 * Validates a filter: unknown fields are refused (a misspelt `queues` must
 * not turn a bulk delete into "every task"), and every value is checked
 * before anything is read or written.
 */
export const checkFilter = (filter: unknown): CheckedFilter => {
  if (filter === undefined) filter = {};
  if (typeof filter !== "object" || filter === null || Array.isArray(filter))
    throw badFilter("(root)", "expected an object");
  const f = filter as Record<string, unknown>;
  for (const key of Object.keys(f))
    if (!knownKeys.has(key)) {
      const close = closestKey(key, knownKeys);
      throw badFilter(
        key,
        `unknown filter field${close === undefined ? "" : ` (did you mean ${JSON.stringify(close)}?)`}; known: ${[...knownKeys].join(", ")}`,
      );
    }
  const given = (key: keyof TaskFilter): boolean => f[key] !== undefined;
  return {
    queues: given("queue") ? checkQueues(f["queue"]) : null,
    states: given("state") ? checkStates(f["state"]) : null,
    ids: given("ids") ? checkIds(f["ids"]) : null,
    jobId: given("jobId") ? checkJobIdField(f["jobId"]) : null,
    batchId: given("batchId") ? checkBatchIdField(f["batchId"]) : null,
    concurrencyKey: given("concurrencyKey") ? checkText("concurrencyKey", f["concurrencyKey"], 1_000) : null,
    errorLike: given("errorLike") ? checkText("errorLike", f["errorLike"], 1_000) : null,
    inputContains: given("inputContains") ? checkJson(f["inputContains"]) : null,
    createdAfter: given("createdAfter") ? checkDate("createdAfter", f["createdAfter"]) : null,
    createdBefore: given("createdBefore") ? checkDate("createdBefore", f["createdBefore"]) : null,
  };
};

const checkJobIdField = (value: unknown): string => {
  try {
    return checkJobId(value as string);
  } catch (error) {
    throw badFilter("jobId", (error as Error).message);
  }
};

const checkBatchIdField = (value: unknown): string => {
  try {
    return checkBatchId(value as string);
  } catch (error) {
    throw badFilter("batchId", (error as Error).message);
  }
};

/** A LIKE pattern matching text that contains `text`: its `%`, `_` and `\\` taken literally. */
const containsPattern = (text: string): string => `%${text.replace(/[\\%_]/g, "\\$&")}%`;

/**
 * Whether pg_trgm can take trigrams from a contains-pattern of `text`: it
 * needs three word characters (letters or digits) in a row. Without one,
 * the trigram index would have to be read whole, so such a search is a
 * bounded walk instead. Unicode letters count, as they do for pg_trgm in a
 * UTF-8 database.
 */
export const hasTrigram = (text: string): boolean => /[\p{L}\p{N}]{3}/u.test(text);

/** SQL conditions on alias `t` and their bind values, numbered from `first`. */
export interface Predicate {
  readonly text: string;
  readonly values: ReadonlyArray<unknown>;
}

/**
 * The filter as a WHERE condition on `t`: fixed SQL fragments joined with
 * AND, every value a bind parameter. `withQueueState: false` leaves queue
 * and state out, for the list that walks (queue, state) pairs itself.
 */
export const predicateOf = (
  schema: string,
  filter: CheckedFilter,
  first: number,
  withQueueState = true,
): Predicate => {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const add = (fragment: (param: string) => string, value: unknown): void => {
    values.push(value);
    conditions.push(fragment(`$${first + values.length - 1}`));
  };
  if (withQueueState && filter.queues !== null) add((p) => `t.queue_name = any(${p}::text[])`, filter.queues);
  if (withQueueState && filter.states !== null)
    add((p) => `t.state = any(${p}::${schema}.task_state[])`, filter.states);
  if (filter.ids !== null) add((p) => `t.id = any(${p}::bigint[])`, filter.ids);
  if (filter.jobId !== null) add((p) => `t.job_id = ${p}::uuid`, filter.jobId);
  if (filter.batchId !== null) add((p) => `t.batch_id = ${p}::bigint`, filter.batchId);
  if (filter.concurrencyKey !== null) add((p) => `t.concurrency_key = ${p}::text`, filter.concurrencyKey);
  // ILIKE rather than strpos(lower(…)): the same match, and one the trigram
  // index on error (migration 0013) can answer.
  if (filter.errorLike !== null) add((p) => `t.error ilike ${p}::text`, containsPattern(filter.errorLike));
  if (filter.inputContains !== null) add((p) => `t.input @> ${p}::jsonb`, filter.inputContains);
  if (filter.createdAfter !== null) add((p) => `t.created_at >= ${p}::timestamptz`, filter.createdAfter);
  if (filter.createdBefore !== null) add((p) => `t.created_at < ${p}::timestamptz`, filter.createdBefore);
  return { text: conditions.length === 0 ? "true" : conditions.join(" and "), values };
};
