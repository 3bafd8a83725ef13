/** Column values of tasks to insert, one array per column. */
export interface EnqueueColumns {
  readonly inputs: string[];
  readonly maxAttempts: number[];
  readonly retryInitialMs: number[];
  readonly retryMaxMs: number[];
  readonly retryCoefficient: number[];
  readonly retryJitter: number[];
  readonly timeoutMs: number[];
  readonly heartbeatMs: number[];
  readonly ttlMs: number[];
  readonly priority: number[];
  readonly concurrencyKey: (string | null)[];
  readonly concurrencyLimit: number[];
  readonly uniqueKey: (string | null)[];
  readonly rateLimitKey: (string | null)[];
  readonly delayMs: number[];
  readonly groupKey: (string | null)[];
  readonly startWithinMs: (number | null)[];
  readonly jobId: (string | null)[];
  readonly stepIndex: (number | null)[];
  /** Throttle windows (`uniqueForMs`); read by enqueue, not by the plain inserts. */
  readonly uniqueForMs: (number | null)[];
  /** Debounce delays (`debounceMs`); read by enqueue, not by the plain inserts. */
  readonly debounceMs: (number | null)[];
}

/** One column's name. */
export type EnqueueColumn = keyof EnqueueColumns;

/**
 * A task's options, in the order every insert of `db/queries/` lists them
 * after the input (max_attempts … unique_key, rate_key, then the delay that becomes
 * run_at, then the group and the start deadline). The statements' parameter lists are built from these lists, so
 * the column order is written here and nowhere else.
 */
export const optionColumns = [
  "maxAttempts",
  "retryInitialMs",
  "retryMaxMs",
  "retryCoefficient",
  "retryJitter",
  "timeoutMs",
  "heartbeatMs",
  "ttlMs",
  "priority",
  "concurrencyKey",
  "concurrencyLimit",
  "uniqueKey",
  "rateLimitKey",
  "delayMs",
  "groupKey",
  "startWithinMs",
] as const satisfies ReadonlyArray<EnqueueColumn>;

/** Every column, in the order of tasksEnqueue.sql and tasksEnqueueOne.sql. */
export const enqueueColumns = [
  "inputs",
  ...optionColumns,
  "jobId",
  "stepIndex",
] as const satisfies ReadonlyArray<EnqueueColumn>;

/**
 * A job's next step, as the completing statements insert it: no job id, which
 * they take from the completed row.
 */
export const stepColumns = ["inputs", ...optionColumns, "stepIndex"] as const satisfies ReadonlyArray<EnqueueColumn>;

/** A column name of the given list. */
type Named<L extends ReadonlyArray<EnqueueColumn>> = L[number];

/** One task's values: the first element of each column. */
export type EnqueueRow<L extends ReadonlyArray<EnqueueColumn> = typeof enqueueColumns> = {
  readonly [K in Named<L>]: EnqueueColumns[K][number];
};

/** The columns of the given list, as arrays. */
export type EnqueueArrays<L extends ReadonlyArray<EnqueueColumn>> = {
  readonly [K in Named<L>]: EnqueueColumns[K];
};

/**
 * The first task of `columns`, as scalars, for statements that take one
 * task's values (or options shared by a batch). An empty column gives
 * undefined, which pg sends as null, as before.
 */
export const firstRowOf = <L extends ReadonlyArray<EnqueueColumn>>(
  names: L,
  columns: EnqueueColumns,
): EnqueueRow<L> =>
  Object.fromEntries(names.map((name) => [name, columns[name][0]])) as EnqueueRow<L>;

/** The columns of `names` as arrays of at most one element: the first task, or none. */
export const firstOrNoneOf = <L extends ReadonlyArray<EnqueueColumn>>(
  names: L,
  columns: EnqueueColumns | undefined,
): EnqueueArrays<L> =>
  Object.fromEntries(
    names.map((name) => [name, columns === undefined ? [] : columns[name].slice(0, 1)]),
  ) as EnqueueArrays<L>;
