import { defineQuery, nothing } from "./query.ts";

/** A live process of the worker registry. */
export interface WorkerProcessRow {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly queues: ReadonlyArray<{ readonly queue: string; readonly concurrency: number }>;
  readonly startedAt: Date;
  readonly heartbeatAt: Date;
  readonly heartbeatAgeSeconds: number;
  /** Its running tasks, `startedAt` an ISO string (json_agg). */
  readonly running: ReadonlyArray<{
    readonly id: string;
    readonly queue: string;
    readonly attempt: number;
    readonly jobId: string | null;
    readonly stepIndex: number | null;
    readonly startedAt: string | null;
  }>;
}

/** One client's heartbeat (`queues` as JSON); prunes rows dead for longer than `deadAfterSeconds`. */
export const workerProcessesUpsert = defineQuery<{
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly queues: string;
  readonly deadAfterSeconds: number;
}>("workerProcessesUpsert", ["deadAfterSeconds", "id", "host", "pid", "queues"]).map(nothing);

/** A client that stopped its last worker, or closed. */
export const workerProcessesDelete = defineQuery<{ readonly id: string }>("workerProcessesDelete", ["id"]).map(
  nothing,
);

/** Processes whose last heartbeat is at most `liveSeconds` old. */
export const workerProcessesList = defineQuery<{ readonly liveSeconds: number }, WorkerProcessRow>(
  "workerProcessesList",
  ["liveSeconds"],
);
