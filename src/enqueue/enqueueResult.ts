/**
 * What an enqueue did with one input:
 * - `created`: a new task;
 * - `existing`: a live task (pending or running) holds the input's `uniqueKey`: its id;
 * - `throttled`: the key's `uniqueForMs` window is open: the id of the task
 *   that opened it (it may have ended);
 * - `debounced`: the key's pending task took this input and was pushed back
 *   by `debounceMs`: its id.
 */
export type EnqueueStatus = "created" | "existing" | "throttled" | "debounced";

/** A task id and what the enqueue did to get it (`enqueueResult`, `enqueueManyResults`). */
export interface EnqueueResult {
  /** The task's id: the new one's, or the one the input was folded into. */
  readonly id: string;
  /** What happened; see {@link EnqueueStatus}. */
  readonly status: EnqueueStatus;
}
