import { defineQuery } from "./query.ts";

// The statements of ctx.progress and ctx.log (docs/design/progress-logs.md).

/**
 * What a fenced progress or log write did: `written`; `gone`, the attempt
 * no longer holds its task (finished, reclaimed, deleted), so nothing more
 * of it is written; `locked`, the task row was locked FOR UPDATE by someone
 * else just then, so the write is tried again later.
 */
export type ReportWriteStatus = "written" | "gone" | "locked";

const statusOf = (rows: ReadonlyArray<{ readonly status: ReportWriteStatus }>): ReportWriteStatus =>
  rows[0]?.status ?? "gone";

/** Stores an attempt's latest progress (JSON text) and notifies progress streams, fenced by the attempt. */
export const taskProgressSet = defineQuery<
  { readonly taskId: string; readonly attempt: number; readonly value: string; readonly channel: string },
  { readonly status: ReportWriteStatus }
>("taskProgressSet", ["taskId", "attempt", "value", "channel"])
  .map(statusOf)
  .from((params: { readonly taskId: string; readonly attempt: number; readonly value: string }, sql) => ({
    ...params,
    channel: `${sql.schema}.progress`,
  }));

/**
 * Appends a batch of an attempt's log lines (numbered after `base`) and cuts
 * its lines numbered `cutBelow` or lower (after `base` too), fenced by the attempt.
 */
export const taskLogsAppend = defineQuery<
  {
    readonly taskId: string;
    readonly attempt: number;
    readonly seqs: ReadonlyArray<number>;
    /** Epoch milliseconds, one per line. */
    readonly ats: ReadonlyArray<number>;
    readonly messages: ReadonlyArray<string>;
    readonly cutBelow: number;
    /** The attempt's last line number before this run (null: read it, on the run's first write). */
    readonly base: number | null;
  },
  { readonly status: ReportWriteStatus; readonly base: number }
>("taskLogsAppend", ["taskId", "attempt", "base", "seqs", "ats", "messages", "cutBelow"]).map(
  (rows): LogsWrite => ({ status: statusOf(rows), base: rows[0]?.base ?? 0 }),
);

/** What a log write did, and the line number its run's lines are stored after (see taskLogsAppend.sql). */
export interface LogsWrite {
  readonly status: ReportWriteStatus;
  readonly base: number;
}

/** A stored log line with its attempt's count of lines cut. */
export interface TaskLogRow {
  readonly attempt: number;
  readonly seq: number;
  readonly at: Date;
  readonly message: string;
  readonly cut: number;
}

/** A task's log lines, by attempt (null: all) and line. */
export const taskLogsList = defineQuery<{ readonly id: string; readonly attempt: number | null }, TaskLogRow>(
  "taskLogsList",
  ["id", "attempt"],
);

/** A task's latest progress as stored. */
export interface TaskProgressRow {
  readonly taskId: string;
  readonly attempt: number;
  readonly value: unknown;
  readonly updatedAt: Date;
}

/** The latest progress of these tasks, for those that reported any. */
export const taskProgressGet = defineQuery<{ readonly ids: ReadonlyArray<string> }, TaskProgressRow>(
  "taskProgressGet",
  ["ids"],
);

/** How many log lines a task's attempts keep. */
export const taskLogsCount = defineQuery<{ readonly id: string }, { readonly count: number }>("taskLogsCount", [
  "id",
]).map((rows) => rows[0]?.count ?? 0);
