import type { JobDefinition } from "../definition.ts";
import { UnderwayError, ValidationError, orThrow } from "../errors.ts";
import type { TraceCarrier } from "../events/taskEvents.ts";
import { inTransaction } from "../inTransaction.ts";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import type { EnqueuedRow } from "../db/enqueueQueries.ts";
import type { Queryable } from "../db/query.ts";
import type { ProducerDeps } from "../client/clientDeps.ts";
import { checkInput, type CheckedInput } from "./checkInput.ts";
import { checkEnqueueOptions, type EnqueueOptions } from "./enqueueOptions.ts";
import { taskColumns } from "./taskColumns.ts";
import { uniqueKeyChurn, uniqueKeyRounds } from "./uniqueKeyRounds.ts";

// Rows per INSERT statement: one array parameter per column, so the limit
// is memory per statement, not the 65,535 bind parameters.
const enqueueChunk = 5_000;

/**
 * Validates every input first (one bad input rejects the whole batch,
 * naming its index, and nothing is written), then inserts them in chunks,
 * all or nothing: in the caller's transaction, or in one of its own. Ids
 * come back in input order.
 */
export const enqueueMany = async <In, V, R, O>(
  deps: ProducerDeps,
  definition: JobDefinition<In, V, R, O>,
  inputs: ReadonlyArray<In>,
  options: EnqueueOptions | undefined,
): Promise<string[]> => {
  const { queue } = definition;
  if (!Array.isArray(inputs))
    throw new ValidationError(`enqueueMany on queue ${queue}`, {
      _tag: "DecodeError",
      paths: ["(root)"],
      message: `expected an array of inputs, got ${typeof inputs}`,
    });
  checkEnqueueOptions(options);
  const valid = inputs.map((input, index) => checkInput(definition, input, index));
  if (valid.length === 0) return [];
  await deps.register(definition);
  const insert = (db: Queryable, trace: TraceCarrier | null) =>
    insertMany(deps, definition, db, valid, options, trace);
  return deps.lifecycle.produce(
    queue,
    (trace) =>
      options?.client !== undefined
        ? insert(options.client, trace)
        : inTransaction(deps.pool, (client) => insert(client, trace)),
    (ids) => ids,
  );
};

const insertMany = async <In, V, R, O>(
  deps: ProducerDeps,
  definition: JobDefinition<In, V, R, O>,
  db: Queryable,
  inputs: ReadonlyArray<CheckedInput<V>>,
  options: EnqueueOptions | undefined,
  trace: TraceCarrier | null,
): Promise<string[]> => {
  const ids: string[] = [];
  const { store } = deps;
  const { queue } = definition;
  // Without per-input overrides every row shares its options: resolve them
  // once and send only the inputs as an array.
  const uniform = definition.optionsFor === undefined && inputs[0] !== undefined;
  const shared = uniform ? taskColumns(definition, inputs.slice(0, 1), options) : undefined;
  // Inserts some inputs and gives their rows and unique keys, in input order.
  const insertRows = async (some: ReadonlyArray<CheckedInput<V>>) =>
    shared === undefined
      ? insertChunk(deps, queue, db, taskColumns(definition, some, options), trace)
      : ([
          await orThrow(
            store.tasksEnqueueUniform(db, {
              queue,
              inputs: some.map((input) => input.json),
              columns: shared,
              trace,
            })(),
          ),
          some.map(() => shared.uniqueKey[0] ?? null),
        ] as const);
  for (let start = 0; start < inputs.length; start += enqueueChunk) {
    const chunk = inputs.slice(start, start + enqueueChunk);
    ids.push(...(await idsOfChunk(deps, queue, db, chunk, insertRows)));
  }
  return ids;
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
 * Inserts a chunk and gives an id per input, in input order: the inserted
 * task's, or where its unique key was taken, the live task holding it. A
 * holder may finish between the insert and the look-up, freeing the key:
 * those inputs are inserted again (they get a task of their own, as an
 * enqueue after the holder finished would).
 */
const idsOfChunk = async <V>(
  deps: ProducerDeps,
  queue: string,
  db: Queryable,
  chunk: ReadonlyArray<CheckedInput<V>>,
  insertRows: (
    some: ReadonlyArray<CheckedInput<V>>,
  ) => Promise<readonly [ReadonlyArray<EnqueuedRow>, ReadonlyArray<string | null>]>,
): Promise<string[]> => {
  const ids: Array<string | undefined> = chunk.map(() => undefined);
  let todo = chunk.map((_, index) => index);
  let lastKey: string | null = null;
  for (let round = 0; round < uniqueKeyRounds && todo.length > 0; round += 1) {
    const [rows, uniqueKeys] = await insertRows(todo.map((index) => chunk[index] as CheckedInput<V>));
    deps.throughput.count(queue, "enqueued", rows.length);
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
  return ids as string[];
};
