import type { JobDefinition } from "../definition.ts";
import { UnderwayError, orThrow } from "../errors.ts";
import type { TraceCarrier } from "../events/taskEvents.ts";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import { uniqueKeyChurn, uniqueKeyRounds } from "./uniqueKeyRounds.ts";
import type { Queryable } from "../db/query.ts";
import type { ProducerDeps } from "../client/clientDeps.ts";
import { checkInput } from "./checkInput.ts";
import { checkEnqueueOptions, type EnqueueOptions } from "./enqueueOptions.ts";
import type { EnqueueResult } from "./enqueueResult.ts";
import { hasFlow, insertFlow } from "./flowInsert.ts";
import { withPendingCap } from "./pendingCap.ts";
import { taskColumns } from "./taskColumns.ts";

/**
 * Validates and enqueues one task (with the caller's client when given);
 * resolves with its id and what happened: a new task, or the live task
 * holding its unique key, or the task its throttle or debounce folded it into.
 */
export const enqueueOne = async <In, V, R, O>(
  deps: ProducerDeps,
  definition: JobDefinition<In, V, R, O>,
  input: In,
  options: EnqueueOptions | undefined,
): Promise<EnqueueResult> => {
  checkEnqueueOptions(options);
  const valid = checkInput(definition, input);
  const columns = taskColumns(definition, [valid], options);
  await deps.register(definition);
  const { queue } = definition;
  const flow = hasFlow(columns);
  // A debounce's lock is held to commit: it needs a transaction.
  const debounced = (columns.debounceMs[0] ?? null) !== null;
  return deps.lifecycle.produce(
    queue,
    (trace) =>
      withPendingCap(deps, definition, options?.client, debounced, async (db) => {
        const result = await (flow
          ? insertFlow(deps, queue, db, columns, trace)
          : insertOne(deps, queue, db, columns, trace));
        return { result, created: result.status === "created" ? 1 : 0 };
      }),
    (result) => [result.id],
  );
};

/** Inserts the one task of `columns` (no throttle, no debounce): the new task, or the live one holding its unique key. */
export const insertOne = async (
  deps: ProducerDeps,
  queue: string,
  db: Queryable,
  columns: EnqueueColumns,
  trace: TraceCarrier | null,
): Promise<EnqueueResult> => {
  const { store } = deps;
  const uniqueKey = columns.uniqueKey[0] ?? null;
  // A conflicting task may finish between the insert and the look-up; then
  // the key is free again and the insert is retried (./uniqueKeyRounds.ts).
  for (let tries = 0; tries < uniqueKeyRounds; tries += 1) {
    const id = await orThrow(store.tasksEnqueueOne(db, { queue, columns, trace })());
    if (id !== undefined) return { id, status: "created" };
    if (uniqueKey === null) break;
    const existing = await orThrow(store.tasksFindUnique(db, { queue, keys: [uniqueKey] })());
    if (existing[0] !== undefined) return { id: existing[0].id, status: "existing" };
  }
  throw new UnderwayError(
    uniqueKey === null
      ? `enqueue on queue ${queue} returned no id`
      : `${uniqueKeyChurn("enqueue", queue, uniqueKey)}; nothing was written`,
  );
};
