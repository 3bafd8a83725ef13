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
 * (see docs/design/concurrency-keys.md). A run waiting for the children
 * of a fan-out has its unfinished children cancelled and ends cancelled.
 * Resolves true if a step was pending or running, or a fan-out waiting.
 */
export const cancelRun = async (db: Db, queue: string, jobId: string): Promise<boolean> => {
  const { store } = db;
  return inTransaction(db.pool, async (client) => {
    // The job's lock first, in a statement of its own: the cancel then
    // reads in a snapshot that holds every step a completion enqueued,
    // and no completion can enqueue one until it commits.
    await orThrow(store.tasksLockJob(client, { jobId })());
    // A fan-out waiting for its children first: its children cancelled and
    // its next step written cancelled. One whose last child ended before has
    // enqueued that step, which the cancel below (a later snapshot) sees.
    const waiting = await orThrow(store.fanOutsCancel(client, { jobId, queue })());
    const rows = await orThrow(store.tasksCancel(client, { taskId: null, jobId, queue })());
    return waiting > 0 || rows.length > 0;
  });
};
