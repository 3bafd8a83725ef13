import type { JobDefinition } from "../definition.ts";
import { UnderwayError, ValidationError, orThrow } from "../errors.ts";
import type { TraceCarrier } from "../events/taskEvents.ts";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import type { EnqueuedRow } from "../db/enqueueQueries.ts";
import type { Queryable } from "../db/query.ts";
import type { ProducerDeps } from "../client/clientDeps.ts";
import { checkInput, type CheckedInput } from "./checkInput.ts";
import { checkEnqueueOptions, type EnqueueOptions } from "./enqueueOptions.ts";
import type { EnqueueResult } from "./enqueueResult.ts";
import { insertOne } from "./enqueueOne.ts";
import { hasFlow, insertFlow } from "./flowInsert.ts";
import { withPendingCap, type Inserted } from "./pendingCap.ts";
import { pickColumns } from "./pickColumns.ts";
import { taskColumns } from "./taskColumns.ts";
import { uniqueKeyChurn, uniqueKeyRounds } from "./uniqueKeyRounds.ts";

// Rows per INSERT statement: one array parameter per column, so the limit
// is memory per statement, not the 65,535 bind parameters.
const enqueueChunk = 5_000;

/**
 * Validates every input first (one bad input rejects the whole batch,
 * naming its index, and nothing is written), then inserts them in chunks,
 * all or nothing: in the caller's transaction, or in one of its own. Each
 * input gets its task id and what happened (see `EnqueueStatus`), in input
 * order. A capped queue (`maxPending`) is checked once, after the whole
 * batch: past the cap, none of it is written (`QueueFullError`).
 */
export const enqueueMany = async <In, V, R, O>(
  deps: ProducerDeps,
  definition: JobDefinition<In, V, R, O>,
  inputs: ReadonlyArray<In>,
  options: EnqueueOptions | undefined,
): Promise<EnqueueResult[]> => {
  const { queue } = definition;
  if (!Array.isArray(inputs))
    throw new ValidationError(`enqueueMany on queue ${queue}`, {
      _tag: "DecodeError",
      paths: ["(root)"],
      message: `expected an array of inputs, got ${typeof inputs}`,
    });
  checkEnqueueOptions(options);
  // Array.from, not map: a hole of a sparse array is checked (as undefined), not skipped.
  const valid = Array.from(inputs, (input, index) => checkInput(definition, input, index));
  if (valid.length === 0) return [];
  // Without per-input overrides every row shares its options: resolve them
  // once and send only the inputs as an array.
  const uniform = definition.optionsFor === undefined;
  const columns = taskColumns(definition, uniform ? valid.slice(0, 1) : valid, options);
  const flow = columns.inputs.some((_, index) => hasFlow(columns, index));
  await deps.register(definition);
  const insert = async (db: Queryable, trace: TraceCarrier | null): Promise<Inserted<EnqueueResult[]>> => {
    const result = flow
      ? await insertFlowMany(deps, queue, db, uniform ? repeatColumns(columns, valid) : columns, trace)
      : await insertMany(deps, queue, db, valid, uniform ? columns : undefined, columns, trace);
    return { result, created: result.filter((one) => one.status === "created").length };
  };
  return deps.lifecycle.produce(
    queue,
    (trace) => withPendingCap(deps, definition, options?.client, true, (db) => insert(db, trace)),
    (results) => results.map((one) => one.id),
  );
};

/** Shared options repeated for every input: the per-row columns of a uniform batch. */
const repeatColumns = <V>(shared: EnqueueColumns, inputs: ReadonlyArray<CheckedInput<V>>): EnqueueColumns => {
  const rows = pickColumns(
    shared,
    inputs.map(() => 0),
  );
  return { ...rows, inputs: inputs.map((input) => input.json) };
};

/**
 * A batch with throttled or debounced rows: one statement per row, in key
 * order (the window rows' and debounce locks' order, so that batches of
 * overlapping keys cannot deadlock), after taking every debounce lock of
 * the batch. Duplicates of a key within the batch fold into the first, as
 * successive enqueues would.
 */
const insertFlowMany = async (
  deps: ProducerDeps,
  queue: string,
  db: Queryable,
  columns: EnqueueColumns,
  trace: TraceCarrier | null,
): Promise<EnqueueResult[]> => {
  const indexes = columns.inputs.map((_, index) => index);
  const keyOf = (index: number) => columns.uniqueKey[index] ?? "";
  const debounceKeys = indexes
    .filter((index) => (columns.debounceMs[index] ?? null) !== null)
    .map((index) => keyOf(index));
  if (debounceKeys.length > 0)
    await orThrow(deps.store.tasksDebounceLock(db, { queue, keys: debounceKeys })());
  const ordered = [...indexes].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : a - b));
  const results: EnqueueResult[] = [];
  for (const index of ordered) {
    const row = pickColumns(columns, [index]);
    results[index] = hasFlow(row)
      ? await insertFlow(deps, queue, db, row, trace, true)
      : await insertOne(deps, queue, db, row, trace);
  }
  return results;
};

const insertMany = async <V>(
  deps: ProducerDeps,
  queue: string,
  db: Queryable,
  inputs: ReadonlyArray<CheckedInput<V>>,
  shared: EnqueueColumns | undefined,
  all: EnqueueColumns,
  trace: TraceCarrier | null,
): Promise<EnqueueResult[]> => {
  const results: EnqueueResult[] = [];
  const { store } = deps;
  // Inserts some inputs (by index) and gives their rows and unique keys, in input order.
  const insertRows = async (some: ReadonlyArray<number>) =>
    shared === undefined
      ? insertChunk(
          deps,
          queue,
          db,
          // A batch of one chunk, first round: every row, as computed (no copy).
          some.length === all.inputs.length ? all : pickColumns(all, some),
          trace,
        )
      : ([
          await orThrow(
            store.tasksEnqueueUniform(db, {
              queue,
              inputs: some.map((index) => (inputs[index] as CheckedInput<V>).json),
              columns: shared,
              trace,
            })(),
          ),
          some.map(() => shared.uniqueKey[0] ?? null),
        ] as const);
  for (let start = 0; start < inputs.length; start += enqueueChunk) {
    const chunk = inputs.slice(start, start + enqueueChunk).map((_, offset) => start + offset);
    results.push(...(await resultsOfChunk(deps, queue, db, chunk, insertRows)));
  }
  return results;
};

const insertChunk = async (
  deps: ProducerDeps,
  queue: string,
  db: Queryable,
  columns: EnqueueColumns,
  trace: TraceCarrier | null,
) => {
  const rows = await orThrow(deps.store.tasksEnqueue(db, { queue, columns, trace })());
  return [rows, columns.uniqueKey] as const;
};

/**
 * Inserts a chunk and gives a result per input, in input order: the inserted
 * task's, or where its unique key was taken, the live task holding it. A
 * holder may finish between the insert and the look-up, freeing the key:
 * those inputs are inserted again (they get a task of their own, as an
 * enqueue after the holder finished would).
 */
const resultsOfChunk = async (
  deps: ProducerDeps,
  queue: string,
  db: Queryable,
  chunk: ReadonlyArray<number>,
  insertRows: (
    some: ReadonlyArray<number>,
  ) => Promise<readonly [ReadonlyArray<EnqueuedRow>, ReadonlyArray<string | null>]>,
): Promise<EnqueueResult[]> => {
  const ids: Array<string | undefined> = chunk.map(() => undefined);
  const created = new Set<string>();
  let todo = chunk.map((_, index) => index);
  let lastKey: string | null = null;
  for (let round = 0; round < uniqueKeyRounds && todo.length > 0; round += 1) {
    const [rows, uniqueKeys] = await insertRows(todo.map((index) => chunk[index] as number));
    for (const row of rows) created.add(row.id);
    const taken =
      rows.length === uniqueKeys.length ? [] : uniqueKeys.filter((key): key is string => key !== null);
    const existing =
      taken.length === 0 ? [] : await orThrow(deps.store.tasksFindUnique(db, { queue, keys: taken })());
    const byKey = new Map([...existing, ...rows].map((row) => [row.uniqueKey, row.id]));
    const unkeyed = rows.filter((row) => row.uniqueKey === null);
    let next = 0;
    const again: number[] = [];
    todo.forEach((index, position) => {
      const key = uniqueKeys[position] ?? null;
      const id = key === null ? unkeyed[next++]?.id : byKey.get(key);
      if (id === undefined && key === null)
        throw new UnderwayError(`enqueueMany on queue ${queue} lost track of an id`);
      if (id === undefined) {
        again.push(index);
        lastKey = key;
      } else ids[index] = id;
    });
    todo = again;
  }
  if (todo.length > 0)
    throw new UnderwayError(
      `${uniqueKeyChurn("enqueueMany", queue, lastKey)}; its transaction writes nothing`,
    );
  // The first input given a new task created it; later ones with its key folded into it.
  return (ids as string[]).map((id) => {
    const status = created.delete(id) ? "created" : "existing";
    return { id, status };
  });
};
