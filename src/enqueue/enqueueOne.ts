import type { JobDefinition } from "../definition.ts";
import { UnderwayError, orThrow } from "../errors.ts";
import type { TraceCarrier } from "../events/taskEvents.ts";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import { uniqueKeyChurn, uniqueKeyRounds } from "./uniqueKeyRounds.ts";
import type { Queryable } from "../db/query.ts";
import type { ProducerDeps } from "../client/clientDeps.ts";
import { checkInput } from "./checkInput.ts";
import { checkEnqueueOptions, type EnqueueOptions } from "./enqueueOptions.ts";
import { taskColumns } from "./taskColumns.ts";

/**
 * Validates and enqueues one task (with the caller's client when given);
 * resolves with its id, or with the id of the live task holding its unique key.
 */
export const enqueueOne = async <In, V, R, O>(
  deps: ProducerDeps,
  definition: JobDefinition<In, V, R, O>,
  input: In,
  options: EnqueueOptions | undefined,
): Promise<string> => {
  checkEnqueueOptions(options);
  const valid = checkInput(definition, input);
  const columns = taskColumns(definition, [valid], options);
  await deps.register(definition);
  const db = options?.client ?? deps.pool;
  return deps.lifecycle.produce(
    definition.queue,
    (trace) => insertOne(deps, definition.queue, db, columns, trace),
    (id) => [id],
  );
};

const insertOne = async (
  deps: ProducerDeps,
  queue: string,
  db: Queryable,
  columns: EnqueueColumns,
  trace: TraceCarrier | null,
): Promise<string> => {
  const { store } = deps;
  const uniqueKey = columns.uniqueKey[0] ?? null;
  // A conflicting task may finish between the insert and the look-up; then
  // the key is free again and the insert is retried (./uniqueKeyRounds.ts).
  for (let tries = 0; tries < uniqueKeyRounds; tries += 1) {
    const id = await orThrow(store.tasksEnqueueOne(db, { queue, columns, trace })());
    if (id !== undefined) deps.throughput.count(queue, "enqueued");
    if (id !== undefined) return id;
    if (uniqueKey === null) break;
    const existing = await orThrow(store.tasksFindUnique(db, { queue, keys: [uniqueKey] })());
    if (existing[0] !== undefined) return existing[0].id;
  }
  throw new UnderwayError(
    uniqueKey === null
      ? `enqueue on queue ${queue} returned no id`
      : `${uniqueKeyChurn("enqueue", queue, uniqueKey)}; nothing was written`,
  );
};
