import { checkTaskId } from "../identifier.ts";
import { historyOf } from "../history.ts";
import { orThrow } from "../errors.ts";
import type { Db } from "../client/clientDeps.ts";
import { opsTaskDetail } from "../db/opsQueries.ts";
import type { TaskDetail } from "./types.ts";

/** One task in full, or undefined when there is none with that id; see {@link Ops.task}. */
export const taskDetail = async (deps: Db, id: string): Promise<TaskDetail | undefined> => {
  checkTaskId(id);
  const [row, history] = await Promise.all([
    orThrow(opsTaskDetail(deps.sql, deps.pool, { id })()),
    historyOf(deps, id),
  ]);
  if (row === undefined) return undefined;
  return {
    id: row.id,
    queue: row.queue,
    state: row.state,
    attempt: row.attempt,
    maxAttempts: row.maxAttempts,
    priority: row.priority,
    concurrencyKey: row.concurrencyKey,
    group: row.group,
    jobId: row.jobId,
    stepIndex: row.stepIndex,
    error: row.error,
    runAt: row.runAt,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    input: row.input,
    output: row.output,
    options: {
      maxAttempts: row.maxAttempts,
      retryInitialMs: row.retryInitialMs,
      retryMaxMs: row.retryMaxMs,
      retryCoefficient: row.retryCoefficient,
      retryJitter: row.retryJitter,
      timeoutMs: row.timeoutMs,
      heartbeatMs: row.heartbeatMs,
      ttlMs: row.ttlMs,
      priority: row.priority,
      concurrencyKey: row.concurrencyKey,
      concurrencyLimit: row.concurrencyLimit,
      uniqueKey: row.uniqueKey,
    },
    lease:
      row.state === "in_progress" && row.workerId !== null && row.leaseExpiresAt !== null
        ? { workerId: row.workerId, expiresAt: row.leaseExpiresAt }
        : null,
    dlqFrom: row.dlqFrom,
    cancelRequestedAt: row.cancelRequestedAt,
    history,
  };
};
