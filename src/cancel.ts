import { orThrow } from "./errors.ts";
import { inTransaction } from "./inTransaction.ts";
import type { CancelDeps, Db } from "./client/clientDeps.ts";

/**
 * Cancels one task of `queue`: pending, it becomes cancelled at once;
 * running, its handler's signal fires in whichever process runs it.
 * Resolves true if it was pending or running.
 */
export const cancelTask = async (deps: CancelDeps, queue: string, taskId: string): Promise<boolean> => {
  const rows = await orThrow(deps.store.tasksCancel(deps.pool, { taskId, jobId: null, queue })());
  // A running task is counted when its worker reports it cancelled.
  deps.throughput.count(queue, "cancelled", rows.filter((row) => row.previous === "pending").length);
  return rows.length > 0;
};

/**
 * Cancels a multi-step job run: its pending step becomes cancelled, a
 * running step's signal fires, and no step of the run starts afterwards
 * (see docs/design/concurrency-keys.md). Resolves true if a step was
 * pending or running.
 */
export const cancelRun = async (db: Db, queue: string, jobId: string): Promise<boolean> => {
  const { store } = db;
  return inTransaction(db.pool, async (client) => {
    // The job's lock first, in a statement of its own: the cancel then
    // reads in a snapshot that holds every step a completion enqueued,
    // and no completion can enqueue one until it commits.
    await orThrow(store.tasksLockJob(client, { jobId })());
    const rows = await orThrow(store.tasksCancel(client, { taskId: null, jobId, queue })());
    return rows.length > 0;
  });
};
