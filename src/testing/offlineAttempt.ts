import * as E from "fp-ts/lib/Either.js";
import { asyncScheduler } from "rxjs";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import type { ClaimedRow } from "../db/claimQueries.ts";
import { AbortError, UnderwayError, type TaskFailure } from "../errors.ts";
import { TaskEvents } from "../events/taskEvents.ts";
import { silentLogger } from "../log.ts";
import { targetDeps, type RunTarget, type TaskRunner } from "../run/taskRunner.ts";
import type { JsonValue } from "../json.ts";
import type { LogLine, LogsWritten, ReportSink, ReportWrite } from "../worker/attemptReport.ts";
import { Deadlines } from "../worker/deadlines.ts";
import {
  runAttempt,
  type ExecuteDeps,
  type RunningTask,
  type Success,
  type TaskContext,
} from "../worker/execute.ts";
import type { TransactionClient } from "../worker/guardedClient.ts";
import { TaskAbort } from "../worker/taskAbort.ts";
import type { TransactionalContext } from "../worker/transactional.ts";

/**
 * Thrown by whatever needs a database inside `perform` (a transactional
 * handler's `ctx.tx` when none was given): perform runs a handler without
 * one.
 */
export class NoDatabaseError extends UnderwayError {
  /** Always `"NoDatabaseError"`. */
  override readonly name = "NoDatabaseError";
}

const noDatabase = (what: string): NoDatabaseError =>
  new NoDatabaseError(
    `perform has no database: ${what} cannot be used (give perform a \`tx\` of your own to test a transactional handler's writes)`,
  );

/**
 * A stand-in for a database dependency of the attempt pipeline that perform
 * must never reach (store, pool, completer, admissions): any use of it
 * throws, naming it, rather than failing somewhere obscure.
 */
const offline = <A>(what: string): A =>
  new Proxy(
    {},
    {
      get: (_target, key) => {
        // Not a thenable: `await offline(...)` must not call into it.
        if (key === "then") return undefined;
        throw noDatabase(`${what}.${String(key)}`);
      },
    },
  ) as A;

/** `ctx.tx` under perform when the test gives none: every query rejects with a {@link NoDatabaseError}. */
export const offlineTx = (): TransactionClient => {
  const refuse = () => {
    throw noDatabase("ctx.tx");
  };
  return {
    query: (() => Promise.reject(noDatabase("ctx.tx.query"))) as TransactionClient["query"],
    escapeIdentifier: refuse,
    escapeLiteral: refuse,
  };
};

/** The task row a worker would claim for the first task of `columns` (what enqueue would insert). */
export const offlineRowOf = (
  columns: EnqueueColumns,
  id: string,
  attempt: number,
  snoozes: number,
): ClaimedRow => {
  const at = <K extends keyof EnqueueColumns>(name: K): EnqueueColumns[K][number] => {
    const value = columns[name][0];
    if (value === undefined) throw new UnderwayError(`perform: no ${name} for the task`);
    return value;
  };
  return {
    id,
    input: JSON.parse(at("inputs")) as unknown,
    attempt,
    // A test may ask for the third attempt of a task whose policy allows two.
    maxAttempts: Math.max(at("maxAttempts"), attempt),
    retryInitialMs: at("retryInitialMs"),
    retryMaxMs: at("retryMaxMs"),
    retryCoefficient: at("retryCoefficient"),
    retryJitter: at("retryJitter"),
    timeoutMs: at("timeoutMs"),
    heartbeatMs: at("heartbeatMs"),
    concurrencyKey: at("concurrencyKey"),
    concurrencyLimit: at("concurrencyLimit"),
    jobId: at("jobId"),
    stepIndex: at("stepIndex"),
    priority: at("priority"),
    dlqFrom: null,
    attemptBudget: null,
    waitMs: 0,
    traceContext: null,
    admitted: true,
    rateLimited: false,
    snoozes,
  };
};

/**
 * What a handler reported through `ctx.progress` and `ctx.log` under
 * {@link perform}, captured without a database.
 */
export interface PerformedReports {
  /**
   * Every value the handler passed to `ctx.progress`, in order, as stored
   * (a JSON copy): all of them, not only those a worker's pacing would
   * write (a worker stores the last one). A value `ctx.progress` refused
   * (it threw) is not here.
   */
  readonly progress: ReadonlyArray<JsonValue>;
  /**
   * The attempt's log lines as a worker keeps them: its last `maxLogLines`
   * lines (the definition's), each cut at `maxLogLineLength`, NUL
   * characters replaced.
   */
  readonly logs: ReadonlyArray<string>;
  /** How many of the attempt's oldest lines were cut to keep `maxLogLines`. */
  readonly logsCut: number;
}

/** Where ctx.progress and ctx.log write under perform: every progress value, and the log lines a worker would keep. */
class ReportRecorder implements ReportSink {
  readonly progressValues: JsonValue[] = [];
  private lines: LogLine[] = [];
  private lastSeq = 0;

  progress(): Promise<ReportWrite> {
    return Promise.resolve("written");
  }

  logs(_row: ClaimedRow, lines: ReadonlyArray<LogLine>, cutBelow: number): Promise<LogsWritten> {
    this.lines = [...this.lines, ...lines].filter((line) => line.seq > cutBelow);
    this.lastSeq = lines[lines.length - 1]?.seq ?? this.lastSeq;
    // One run per attempt here: its lines are numbered from 1.
    return Promise.resolve({ status: "written", base: 0 });
  }

  reports(): PerformedReports {
    return {
      progress: this.progressValues,
      logs: this.lines.map((line) => line.message),
      logsCut: this.lastSeq - this.lines.length,
    };
  }
}

/** How one attempt ran under perform: the worker's verdict, and what the handler threw, as is. */
export interface OfflineVerdict<O> {
  readonly verdict: E.Either<TaskFailure, Success<O>>;
  /** The value the handler threw, when it threw (the verdict holds its description only). */
  readonly thrown: { readonly value: unknown } | undefined;
  /** Why the handler's signal fired, if it did. */
  readonly aborted: AbortError | undefined;
  /** What the handler reported (`ctx.progress`, `ctx.log`). */
  readonly reports: PerformedReports;
}

/** Where an offline attempt's tx and cancel come from. */
export interface OfflineAttemptOptions {
  /** Given to a transactional handler as `ctx.tx`; without it, {@link offlineTx}. */
  readonly tx?: TransactionClient | undefined;
  /** Aborting it cancels the attempt, as `job.cancel(id)` would. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * One attempt of a claimed row, in this process and without a database:
 * the worker's own pipeline (`runAttempt` of src/worker/execute.ts: decode,
 * the handler under its timeout and signal, encode, a job's next step), so
 * a result is classified as a worker classifies it. Only what writes the
 * verdict is left out; every database dependency is a stand-in that throws
 * a {@link NoDatabaseError}. The timeout runs on one timer, cleared when
 * the attempt ends: nothing is left behind.
 *
 * A snooze is a verdict like a failure (`Snoozed`), reported by perform.
 * Progress values and log lines are captured by a recording stand-in of
 * the report sink (with the worker's pacing and bounds) and reported
 * beside the verdict; later parts of issue 22 (fan-out requests) go the
 * same way.
 */
export const runOfflineAttempt = async <V, O>(
  target: RunTarget,
  runner: TaskRunner<V, O>,
  row: ClaimedRow,
  options: OfflineAttemptOptions,
): Promise<OfflineVerdict<O>> => {
  let thrown: { readonly value: unknown } | undefined;
  const inTransaction = runner.transactional?.(row) ?? false;
  const tx = inTransaction ? (options.tx ?? offlineTx()) : undefined;
  const recorder = new ReportRecorder();
  const handler = async (input: V, context: TaskContext): Promise<unknown> => {
    try {
      // Every progress value is recorded, past the worker's checks (which throw first).
      const recording: TaskContext = {
        ...context,
        progress: (value) => {
          context.progress(value);
          recorder.progressValues.push(JSON.parse(JSON.stringify(value)) as JsonValue);
        },
      };
      const withTx: TransactionalContext | undefined = tx === undefined ? undefined : { ...recording, tx };
      return await runner.handler(input, withTx ?? recording);
    } catch (error: unknown) {
      thrown = { value: error };
      throw error;
    }
  };
  const deadlines = new Deadlines(asyncScheduler, () => performance.now());
  const deps: ExecuteDeps<V, O> = {
    store: offline("the store"),
    schema: "perform",
    pool: offline("the pool"),
    ...targetDeps(target, runner),
    handler,
    completer: offline("the completer"),
    // The transaction, if any, is ours to give (above): the worker's would open one.
    transactional: () => false,
    log: silentLogger,
    random: Math.random,
    events: new TaskEvents(silentLogger, () => undefined),
    now: Date.now,
    deadlines,
    admissions: offline("admissions"),
    reports: recorder,
  };
  const task: RunningTask = { row, abort: new TaskAbort(), abandon: new TaskAbort(), started: true };
  const cancel = () => task.abort.abort(new AbortError("cancelled"));
  options.signal?.addEventListener("abort", cancel, { once: true });
  if (options.signal?.aborted === true) cancel();
  try {
    const verdict = await runAttempt(deps)(task)();
    return { verdict, thrown, aborted: task.abort.reason, reports: recorder.reports() };
  } finally {
    options.signal?.removeEventListener("abort", cancel);
    // A handler still running past its timeout holds no timer of ours.
    deadlines.close();
  }
};
