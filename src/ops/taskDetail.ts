import { checkTaskId } from "../identifier.ts";
import { historyOf } from "../history.ts";
import { orThrow } from "../errors.ts";
import type { Db } from "../client/clientDeps.ts";
import { summaryOf } from "../db/opsQueries.ts";
import type { TaskDetail } from "./types.ts";

/** One task in full, or undefined when there is none with that id; see {@link Ops.task}. */
export const taskDetail = async (deps: Db, id: string): Promise<TaskDetail | undefined> => {
  checkTaskId(id);
  const [row, history, progress, logLines] = await Promise.all([
    orThrow(deps.store.opsTaskDetail(deps.pool, { id })()),
    historyOf(deps, id),
    orThrow(deps.store.taskProgressGet(deps.pool, { ids: [id] })()),
    orThrow(deps.store.taskLogsCount(deps.pool, { id })()),
  ]);
  const reported = progress[0];
  if (row === undefined) return undefined;
  // The detail shows dlqFrom after the lease, as it always has, and the
  // group after the concurrency key.
  const { dlqFrom, jobId, stepIndex, error, runAt, createdAt, startedAt, finishedAt, ...head } =
    summaryOf(row);
  return {
    ...head,
    group: row.group,
    jobId,
    stepIndex,
    error,
    runAt,
    createdAt,
    startedAt,
    finishedAt,
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
      rateLimitKey: row.rateLimitKey,
    },
    lease:
      row.state === "in_progress" && row.workerId !== null && row.leaseExpiresAt !== null
        ? { workerId: row.workerId, expiresAt: row.leaseExpiresAt }
        : null,
    dlqFrom,
    cancelRequestedAt: row.cancelRequestedAt,
    history,
    // Last: added after the others, whose order the API keeps.
    batchId: row.batchId,
    progress:
      reported === undefined
        ? null
        : { value: reported.value, attempt: reported.attempt, updatedAt: reported.updatedAt },
    logLines,
  };
};
