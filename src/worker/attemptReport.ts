import * as E from "fp-ts/lib/Either.js";
import * as TE from "fp-ts/lib/TaskEither.js";
import { pipe } from "fp-ts/lib/function.js";
import { errorText } from "../errorText.ts";
import { messageOf, type DbError } from "../errors.ts";
import { jsonProblem } from "../json.ts";
import type { Logger } from "../log.ts";
import type { ClaimedRow } from "../db/claimQueries.ts";
import type { ReportWriteStatus } from "../db/reportQueries.ts";
import type { Db } from "../client/clientDeps.ts";
import type { Deadlines } from "./deadlines.ts";

// ctx.progress and ctx.log of one attempt (docs/design/progress-logs.md):
// values and lines are kept here and written at most once per interval,
// the latest progress value winning and log lines going in one INSERT per
// batch; whatever is left is written when the handler's part ends, before
// the attempt's result. Made on the first call only: an attempt that never
// reports builds nothing and writes nothing.

/** Longest JSON text of one progress value, in UTF-8 bytes (as stored): a larger value is refused. */
export const maxProgressLength = 64 * 1024;

/** What bounds and paces one attempt's reports: the definition's options. */
export interface ReportLimits {
  /** At most one progress write and one log write per this many ms per attempt. */
  readonly progressIntervalMs: number;
  /** Log lines kept per attempt; older ones are cut first. */
  readonly maxLogLines: number;
  /** Longest log line kept, in UTF-16 code units; longer ones are cut, saying so. */
  readonly maxLogLineLength: number;
}

/** @internal A log line as written. */
export interface LogLine {
  /** Its number in the attempt, from 1, counting lines cut. */
  readonly seq: number;
  /** When it was logged, epoch ms. */
  readonly at: number;
  readonly message: string;
}

/** @internal What a log write did, and the line number this run's lines are stored after (when written). */
export interface LogsWritten {
  readonly status: ReportWrite;
  readonly base: number | undefined;
}

/** @internal What `retry` means to a write: the statement failed or met a lock; try again later. */
export type ReportWrite = ReportWriteStatus | "failed";

/**
 * @internal Where an attempt's reports go: the database for a worker
 * ({@link databaseReportSink}), a recorder for the testing kit's `perform`.
 */
export interface ReportSink {
  /** Stores the attempt's latest progress (JSON text). */
  progress(row: ClaimedRow, json: string): Promise<ReportWrite>;
  /**
   * Appends lines and cuts the attempt's lines numbered `cutBelow` or lower,
   * both numbered after `base` (the attempt's last line before this run;
   * undefined on the run's first write: the sink finds it and says it).
   */
  logs(
    row: ClaimedRow,
    lines: ReadonlyArray<LogLine>,
    cutBelow: number,
    base: number | undefined,
  ): Promise<LogsWritten>;
}

/** @internal The database's sink: the fenced statements of src/db/reportQueries.ts. A failure is logged, never thrown. */
export const databaseReportSink = (db: Db, log: Logger): ReportSink => {
  const settle = async (
    what: string,
    row: ClaimedRow,
    write: TE.TaskEither<DbError, ReportWriteStatus>,
  ): Promise<ReportWrite> => {
    const result = await write();
    if (E.isRight(result)) return result.right;
    log.warn(`could not write a task's ${what}; tried again at the next interval`, {
      taskId: row.id,
      attempt: row.attempt,
      error: messageOf(result.left.cause),
    });
    return "failed";
  };
  return {
    progress: (row, json) =>
      settle(
        "progress",
        row,
        db.store.taskProgressSet(db.pool, { taskId: row.id, attempt: row.attempt, value: json }),
      ),
    logs: async (row, lines, cutBelow, base) => {
      let written: number | undefined;
      const status = await settle(
        "log lines",
        row,
        pipe(
          db.store.taskLogsAppend(db.pool, {
            taskId: row.id,
            attempt: row.attempt,
            seqs: lines.map((line) => line.seq),
            ats: lines.map((line) => line.at),
            messages: lines.map((line) => line.message),
            cutBelow,
            base: base ?? null,
          }),
          TE.map((write) => {
            written = write.base;
            return write.status;
          }),
        ),
      );
      return { status, base: status === "written" ? written : undefined };
    },
  };
};

/** @internal What an attempt's reports need of the attempt's deps. */
export interface ReportDeps {
  readonly reports: ReportSink;
  readonly reportLimits: ReportLimits;
  readonly deadlines: Deadlines;
  readonly log: Logger;
}

// Tries of the last write when it meets a lock or fails, and the wait between them.
const finalTries = 3;
const finalRetryMs = 50;

/**
 * @internal One attempt's progress and log lines, paced and bounded. Calls
 * after {@link end} are dropped (logged once): the attempt's result is
 * written, and a late value must not overwrite it nor a stale attempt's
 * line land among the next attempt's.
 */
export class AttemptReport {
  private pendingProgress: string | undefined;
  private lines: LogLine[] = [];
  private seq = 0;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private cancelTimer: (() => void) | undefined;
  private writing: Promise<void> | undefined;
  private gone = false;
  private ended = false;
  private warnedLate = false;
  /** The attempt's last stored line number before this run (a snoozed attempt runs again); known once written. */
  private logBase: number | undefined;

  constructor(
    private readonly deps: ReportDeps,
    private readonly row: ClaimedRow,
    private readonly now: () => number = Date.now,
  ) {}

  /** Checks and keeps `value` as the attempt's latest progress; throws (a TypeError or RangeError) if it is no JSON. */
  progress(value: unknown): void {
    if (this.late("progress")) return;
    const problem = jsonProblem(value);
    if (problem !== undefined)
      throw new TypeError(
        `ctx.progress: the value cannot be stored as JSON: ${problem.path === "(root)" ? "" : `at ${problem.path}: `}${problem.message}`,
      );
    const json = JSON.stringify(value);
    // Bytes, as stored: counted in characters, text outside ASCII went to three times the limit.
    const bytes = Buffer.byteLength(json, "utf8");
    if (bytes > maxProgressLength)
      throw new RangeError(
        `ctx.progress: the value is ${bytes} bytes of JSON, over the ${maxProgressLength} allowed; report a summary (a count, a percentage), not the data`,
      );
    this.pendingProgress = json;
    this.schedule();
  }

  /** Keeps a log line (cleaned and cut to the definition's length); throws a TypeError if it is not a string. */
  log(message: unknown): void {
    if (this.late("log")) return;
    if (typeof message !== "string")
      throw new TypeError(
        `ctx.log: a message must be a string, got ${message === null ? "null" : typeof message}`,
      );
    this.seq += 1;
    this.lines.push({
      seq: this.seq,
      at: this.now(),
      message: errorText(message, this.deps.reportLimits.maxLogLineLength),
    });
    // Cut by halves, not one line per call: a loop logging without end costs O(1) a line.
    const max = this.deps.reportLimits.maxLogLines;
    if (this.lines.length >= 2 * max) this.lines = this.lines.slice(-max);
    this.schedule();
  }

  /** Lines this attempt logged so far, kept or cut. */
  get logged(): number {
    return this.seq;
  }

  /**
   * The handler's part is over: writes what is left (trying again a few
   * times past a lock or a failed statement), then drops later calls.
   */
  async end(): Promise<void> {
    this.ended = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    for (let tries = 0; ; tries += 1) {
      await this.writing;
      if (this.gone || !this.hasPending()) return;
      if (tries >= finalTries) {
        this.deps.log.warn("could not write a task's last progress or log lines; they are lost", {
          taskId: this.row.id,
          attempt: this.row.attempt,
        });
        return;
      }
      if (tries > 0) await new Promise<void>((wake) => this.deps.deadlines.after(finalRetryMs, wake));
      this.flush();
    }
  }

  private late(what: string): boolean {
    if (!this.ended) return false;
    if (!this.warnedLate) {
      this.warnedLate = true;
      this.deps.log.warn(`ctx.${what} called after the attempt ended; ignored`, {
        taskId: this.row.id,
        attempt: this.row.attempt,
      });
    }
    return true;
  }

  private hasPending(): boolean {
    return this.pendingProgress !== undefined || this.lines.length > 0;
  }

  private schedule(): void {
    if (this.gone || this.ended || this.writing !== undefined || this.cancelTimer !== undefined) return;
    const interval = this.deps.reportLimits.progressIntervalMs;
    if (this.now() - this.lastWriteAt >= interval) return this.flush();
    this.cancelTimer = this.deps.deadlines.after(interval, () => {
      this.cancelTimer = undefined;
      this.flush();
    });
  }

  /** Writes what is pending now; what comes meanwhile waits for the next interval. */
  private flush(): void {
    if (this.gone || this.writing !== undefined || !this.hasPending()) return;
    const progress = this.pendingProgress;
    const max = this.deps.reportLimits.maxLogLines;
    const lines = this.lines.length > max ? this.lines.slice(-max) : this.lines;
    this.pendingProgress = undefined;
    this.lines = [];
    this.lastWriteAt = this.now();
    this.writing = this.write(progress, lines).finally(() => {
      this.writing = undefined;
      if (this.hasPending()) this.schedule();
    });
  }

  private async write(progress: string | undefined, lines: ReadonlyArray<LogLine>): Promise<void> {
    const { reports } = this.deps;
    const [progressWrite, linesWritten] = await Promise.all([
      progress === undefined ? undefined : reports.progress(this.row, progress),
      lines.length === 0
        ? undefined
        : reports.logs(
            this.row,
            lines,
            (lines[lines.length - 1]?.seq ?? 0) - this.deps.reportLimits.maxLogLines,
            this.logBase,
          ),
    ]);
    const linesWrite = linesWritten?.status;
    this.logBase ??= linesWritten?.base;
    if (progressWrite === "gone" || linesWrite === "gone") {
      // Its task finished, was reclaimed or deleted: nothing more is ours to write.
      this.gone = true;
      this.pendingProgress = undefined;
      this.lines = [];
      return;
    }
    // Met a lock or failed: kept for the next write, unless newer came meanwhile.
    if ((progressWrite === "locked" || progressWrite === "failed") && this.pendingProgress === undefined)
      this.pendingProgress = progress;
    if (linesWrite === "locked" || linesWrite === "failed") this.lines = [...lines, ...this.lines];
  }
}

/**
 * @internal An attempt's {@link AttemptReport}, made on the first
 * `ctx.progress` or `ctx.log`: an attempt that never reports builds
 * nothing more than this and writes nothing.
 */
export class LazyAttemptReport {
  private report: AttemptReport | undefined;
  private ended = false;

  constructor(
    private readonly deps: ReportDeps,
    private readonly row: ClaimedRow,
  ) {}

  /** The attempt's report, made now if need be (already ended if the attempt has). */
  get(): AttemptReport {
    if (this.report === undefined) {
      this.report = new AttemptReport(this.deps, this.row);
      if (this.ended) void this.report.end();
    }
    return this.report;
  }

  /** Ends the report: undefined when the attempt never reported (nothing to wait for). */
  end(): Promise<void> | undefined {
    this.ended = true;
    return this.report?.end();
  }
}
