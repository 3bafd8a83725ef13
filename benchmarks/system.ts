/** What every task carries: its index, and when it was enqueued (`performance.now()`, same process). */
export interface TaskPayload {
  readonly i: number;
  readonly t: number;
}

/** Called by a system's worker as each task's handler starts; the handler itself does nothing else. */
export type TaskHandler = (payload: TaskPayload) => void;

export interface RunningWorker {
  /** Stops taking tasks and resolves once the worker has shut down. */
  stop(): Promise<void>;
}

/**
 * A queue under test. Each system keeps its tables in its own schema so that
 * systems in the same database never see each other's rows.
 */
export interface BenchSystem {
  readonly name: string;
  /** The schema holding all of the system's tables: the harness vacuums and analyzes it before each drain. */
  readonly schema: string;
  /**
   * Connects to `url`. With `fresh`, drops the system's schema first and
   * installs it anew; without, expects a schema an earlier `setup` made
   * (the memory workload's child process).
   */
  setup(url: string, fresh: boolean): Promise<void>;
  /** Empties the queue, finished tasks included, so each workload starts from the same state. */
  reset(): Promise<void>;
  /** Enqueues all payloads through the system's batch API, in one call. */
  bulkInsert(payloads: readonly TaskPayload[]): Promise<void>;
  /** Enqueues one task through the system's single-task API. */
  enqueue(payload: TaskPayload): Promise<void>;
  /**
   * Enqueues one task to run `delayMs` from now, through the system's own
   * delay option. Left out by systems that have none.
   */
  enqueueDelayed?(payload: TaskPayload, delayMs: number): Promise<void>;
  /** Starts a worker running at most `concurrency` handlers at once. */
  startWorker(concurrency: number, handler: TaskHandler): Promise<RunningWorker>;
  /**
   * Inserts `n` tasks in the system's finished state, with plain SQL, as
   * cheaply as possible. Left out by systems that keep no finished tasks.
   */
  fillFinished?(n: number): Promise<void>;
  /** Closes the system's connections; leaves its schema in place. */
  teardown(): Promise<void>;
}
