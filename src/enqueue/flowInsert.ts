import { UnderwayError, orThrow } from "../errors.ts";
import type { TraceCarrier } from "../events/taskEvents.ts";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import type { Queryable } from "../db/query.ts";
import type { ProducerDeps } from "../client/clientDeps.ts";
import type { EnqueueResult } from "./enqueueResult.ts";
import { uniqueKeyChurn, uniqueKeyRounds } from "./uniqueKeyRounds.ts";

/** Whether the first row of `columns` is throttled or debounced (the single-task statements of ./flowInsert.ts). */
export const hasFlow = (columns: EnqueueColumns, index = 0): boolean =>
  (columns.uniqueForMs[index] ?? null) !== null || (columns.debounceMs[index] ?? null) !== null;

/**
 * Inserts the one task of `columns` under its throttle or debounce. A
 * debounce takes the key's lock first (held to commit: `db` is in a
 * transaction); `locked` says the caller took it already (enqueueMany
 * takes all of its keys', in key order). A throttled insert that lost a
 * race for its key's window row runs again, as plain unique keys do.
 */
export const insertFlow = async (
  deps: ProducerDeps,
  queue: string,
  db: Queryable,
  columns: EnqueueColumns,
  trace: TraceCarrier | null,
  locked = false,
): Promise<EnqueueResult> => {
  const { store } = deps;
  const key = columns.uniqueKey[0] ?? null;
  const debounced = (columns.debounceMs[0] ?? null) !== null;
  if (debounced && !locked && key !== null)
    await orThrow(store.tasksDebounceLock(db, { queue, keys: [key] })());
  for (let tries = 0; tries < uniqueKeyRounds; tries += 1) {
    const params = { queue, columns, trace };
    const row = await orThrow(
      debounced ? store.tasksEnqueueDebounced(db, params)() : store.tasksEnqueueThrottled(db, params)(),
    );
    if (row !== undefined) {
      return row;
    }
  }
  throw new UnderwayError(`${uniqueKeyChurn("enqueue", queue, key)}; nothing was written`);
};
