import { ConfigError, orThrow } from "../errors.ts";
import { checkTaskId } from "../identifier.ts";
import type { Db } from "../client/clientDeps.ts";
import type { AttemptLog } from "./types.ts";

/** Options of {@link Ops.taskLogs}. */
export interface TaskLogsOptions {
  /** Only this attempt's log (1-based). Default: every attempt's. */
  readonly attempt?: number;
}

/** A task's log lines by attempt, oldest first; see {@link Ops.taskLogs}. */
export const taskLogs = async (
  deps: Db,
  id: string,
  options: TaskLogsOptions = {},
): Promise<AttemptLog[]> => {
  checkTaskId(id);
  const { attempt } = options;
  if (attempt !== undefined && (!Number.isInteger(attempt) || attempt < 1 || attempt > 2_147_483_647))
    throw new ConfigError(`taskLogs: attempt must be an integer from 1, got ${String(attempt)}`);
  const rows = await orThrow(deps.store.taskLogsList(deps.pool, { id, attempt: attempt ?? null })());
  const logs: Array<{ attempt: number; cut: number; lines: AttemptLog["lines"][number][] }> = [];
  for (const row of rows) {
    let last = logs[logs.length - 1];
    if (last?.attempt !== row.attempt) {
      last = { attempt: row.attempt, cut: row.cut, lines: [] };
      logs.push(last);
    }
    last.lines.push({ seq: row.seq, at: row.at, message: row.message });
  }
  return logs;
};
