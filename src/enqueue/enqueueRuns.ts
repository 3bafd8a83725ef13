import { randomUUID } from "node:crypto";
import type { JobDefinition } from "../definition.ts";
import { UnderwayError, orThrow } from "../errors.ts";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import type { ProducerDeps } from "../client/clientDeps.ts";
import { checkInput, type CheckedInput } from "./checkInput.ts";
import { checkEnqueueOptions, type EnqueueOptions, type OptionsSource } from "./enqueueOptions.ts";
import { withPendingCap } from "./pendingCap.ts";
import { taskColumns } from "./taskColumns.ts";

/**
 * Task rows of new multi-step job runs: one first-step row per valid input,
 * each with a job id of its own. Schedules enqueue their runs through this too.
 */
export const runColumns = <V>(
  definition: OptionsSource<V>,
  inputs: ReadonlyArray<CheckedInput<V>>,
  options: EnqueueOptions | undefined,
): EnqueueColumns => {
  const columns = inputs.map((input) =>
    taskColumns(definition, [input], options, { jobId: randomUUID(), stepIndex: 0 }),
  );
  return columns.reduce(
    (all, one) => {
      for (const key of Object.keys(all) as Array<keyof typeof all>)
        (all[key] as unknown[]).push(...(one[key] as unknown[]));
      return all;
    },
    taskColumns(definition, [], undefined),
  );
};

/**
 * Validates every input (all or nothing), then enqueues one run per input
 * in one statement; resolves with their job ids, in input order. An input
 * whose unique key a live run holds gets that run's job id.
 */
export const enqueueRuns = async <In, V, R, O>(
  deps: ProducerDeps,
  definition: JobDefinition<In, V, R, O>,
  inputs: ReadonlyArray<In>,
  options: EnqueueOptions | undefined,
): Promise<string[]> => {
  const { queue } = definition;
  checkEnqueueOptions(options);
  // Array.from, not map: a hole of a sparse array is checked (as undefined), not skipped.
  const valid = Array.from(inputs, (input, index) => checkInput(definition, input, index));
  const columns = runColumns(definition, valid, options);
  await deps.register(definition);
  const { store, pool } = deps;
  const rows = await deps.lifecycle.produce(
    queue,
    (trace) =>
      withPendingCap(deps, definition, options?.client, false, async (db) => {
        const result = await orThrow(store.tasksEnqueue(db, { queue, columns, trace })());
        return { result, created: result.length };
      }),
    (inserted) => inserted.map((row) => row.id),
  );
  const db = options?.client ?? pool;
  const jobIds = columns.jobId as string[];
  if (rows.length === jobIds.length) return jobIds;
  // A live run holds a unique key: that input gets the run's job id, not
  // the id of a run that was never inserted.
  const inserted = new Set(rows.map((row) => row.uniqueKey));
  const taken = columns.uniqueKey.filter((key): key is string => key !== null && !inserted.has(key));
  const existing = await orThrow(store.tasksFindUnique(db, { queue, keys: taken })());
  const byKey = new Map(existing.map((row) => [row.uniqueKey, row.jobId]));
  return jobIds.map((jobId, index) => {
    const key = columns.uniqueKey[index] ?? null;
    if (key === null || inserted.has(key)) return jobId;
    const holder = byKey.get(key);
    if (holder === undefined || holder === null)
      throw new UnderwayError(
        `unique key ${JSON.stringify(key.slice(0, 40))} is held by a task that is not a job run`,
      );
    return holder;
  });
};
