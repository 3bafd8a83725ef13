import type { JobDefinition } from "../definition.ts";
import { UnderwayError, ValidationError, orThrow } from "../errors.ts";
import type { TraceCarrier } from "../events/taskEvents.ts";
import { inTransaction } from "../inTransaction.ts";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import { tasksEnqueue, tasksEnqueueUniform, tasksFindUnique } from "../db/enqueueQueries.ts";
import type { Queryable } from "../db/query.ts";
import type { ProducerDeps } from "../client/clientDeps.ts";
import { checkInput, type CheckedInput } from "./checkInput.ts";
import { checkEnqueueOptions, type EnqueueOptions } from "./enqueueOptions.ts";
import { taskColumns } from "./taskColumns.ts";

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
  const { sql } = deps;
  const { queue } = definition;
  // Without per-input overrides every row shares its options: resolve them
  // once and send only the inputs as an array.
  const uniform = definition.optionsFor === undefined && inputs[0] !== undefined;
  const shared = uniform ? taskColumns(definition, inputs.slice(0, 1), options) : undefined;
  for (let start = 0; start < inputs.length; start += enqueueChunk) {
    const chunk = inputs.slice(start, start + enqueueChunk);
    const [rows, uniqueKeys] =
      shared === undefined
        ? await insertChunk(deps, queue, db, taskColumns(definition, chunk, options), trace)
        : [
            await orThrow(
              tasksEnqueueUniform(sql, db, {
                queue,
                inputs: chunk.map((input) => input.json),
                columns: shared,
                trace,
              })(),
            ),
            chunk.map(() => shared.uniqueKey[0] ?? null),
          ];
    ids.push(...(await idsInOrder(deps, queue, db, rows, uniqueKeys)));
    deps.throughput.count(queue, "enqueued", rows.length);
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
  const rows = await orThrow(tasksEnqueue(deps.sql, db, { queue, columns, trace })());
  return [rows, columns.uniqueKey] as const;
};

/**
 * Inserted rows come back in input order; where a unique key was taken,
 * the input gets the id of the live task holding it.
 */
const idsInOrder = async (
  deps: ProducerDeps,
  queue: string,
  db: Queryable,
  rows: ReadonlyArray<{ readonly id: string; readonly unique_key: string | null }>,
  uniqueKeys: ReadonlyArray<string | null>,
): Promise<string[]> => {
  if (rows.length === uniqueKeys.length) return rows.map((row) => row.id);
  const taken = uniqueKeys.filter((key): key is string => key !== null);
  const existing = await orThrow(tasksFindUnique(deps.sql, db, { queue, keys: taken })());
  const byKey = new Map([...existing, ...rows].map((row) => [row.unique_key, row.id]));
  let next = 0;
  const unkeyed = rows.filter((row) => row.unique_key === null);
  return uniqueKeys.map((key) => {
    const id = key === null ? unkeyed[next++]?.id : byKey.get(key);
    if (id === undefined) throw new UnderwayError(`enqueueMany on queue ${queue} lost track of an id`);
    return id;
  });
};
