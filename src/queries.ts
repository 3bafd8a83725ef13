import * as TE from "fp-ts/lib/TaskEither.js";
import type pg from "pg";
import { dbError, type DbError } from "./errors.ts";
import type { TraceCarrier } from "./events/taskEvents.ts";
import type { Queries } from "./sql.ts";

/** Anything that runs a query: a pool, a pooled client, or the caller's client in a transaction. */
export interface Queryable {
  /** Runs one statement; underway passes named (prepared) queries. pg's `Pool` and `PoolClient` fit. */
  query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

/** The named queries of one schema, run as prepared statements unless `preparedStatements` is false. */
export interface Sql {
  readonly schema: string;
  readonly queries: Queries;
  /**
   * Named (prepared once per connection) statements, or unnamed ones that
   * are parsed on every run. Unnamed statements survive a transaction-mode
   * pooler, which hands each transaction a different server connection.
   * Default true.
   */
  readonly preparedStatements?: boolean;
}

/** Runs one named query of `db/queries/`, prepared unless turned off; errors become `DbError` values. */
export const run = <R extends pg.QueryResultRow>(
  sql: Sql,
  db: Queryable,
  name: string,
  values: ReadonlyArray<unknown>,
): TE.TaskEither<DbError, ReadonlyArray<R>> =>
  TE.tryCatch(
    async () => {
      const text = sql.queries[name];
      if (text === undefined) throw new Error(`no query named ${name} in db/queries`);
      // Prepared once per connection; the name is unique per schema because
      // the text differs per schema.
      const config =
        sql.preparedStatements === false
          ? { text, values: [...values] }
          : { name: `underway.${sql.schema}.${name}`, text, values: [...values] };
      const result = await db.query<R>(config);
      return result.rows;
    },
    (cause) => dbError(name, cause),
  );

/** A task as a worker claims it. */
export interface ClaimedRow {
  readonly id: string;
  readonly input: unknown;
  readonly attempt: number;
  readonly max_attempts: number;
  readonly retry_initial_ms: number;
  readonly retry_max_ms: number;
  readonly retry_coefficient: number;
  readonly retry_jitter: number;
  readonly timeout_ms: number;
  readonly heartbeat_ms: number;
  readonly concurrency_key: string | null;
  readonly concurrency_limit: number;
  readonly job_id: string | null;
  readonly step_index: number | null;
  readonly priority: number;
  readonly dlq_from: string | null;
  /** The policy's attempts once a redrive raised max_attempts past them; null before. */
  readonly attempt_budget: number | null;
  /** Ms from when the task was due to this claim, on the database clock. */
  readonly wait_ms: number;
  /** The producer's trace context, stored at enqueue when tracing was on. */
  readonly trace_context: TraceCarrier | null;
  /**
   * Started at claim. False for a keyed task claimed ahead of a free slot:
   * it holds no key slot until `tasksStart` admits it.
   */
  readonly admitted: boolean;
}

/** Claims up to `limit` tasks; keyed ones past the first `startable` are claimed unstarted (see `tasksStart`). */
export const tasksClaim = (
  sql: Sql,
  db: Queryable,
  queue: string,
  limit: number,
  workerId: string,
  startable: number = limit,
) => run<ClaimedRow>(sql, db, "tasksClaim", [queue, limit, workerId, startable]);

/**
 * Starts claimed, unstarted keyed tasks: each takes its key's slot, or is
 * left unstarted when its key is at its limit. Returns the ids started.
 */
export const tasksStart = (
  sql: Sql,
  db: Queryable,
  ids: ReadonlyArray<string>,
  attempts: ReadonlyArray<number>,
) =>
  TE.map((rows: ReadonlyArray<{ readonly id: string }>) => rows.map((row) => row.id))(
    run<{ readonly id: string }>(sql, db, "tasksStart", [ids, attempts]),
  );

/**
 * Ms until the queue's next pending task falls due, on the database clock;
 * null when none waits. `lookBackMs` also counts rows that fell due that
 * long ago (as 0), to cover the time since the preceding claim started.
 */
export const tasksNextDue = (sql: Sql, db: Queryable, queue: string, lookBackMs: number) =>
  TE.map((rows: ReadonlyArray<{ readonly wait_ms: number | null }>) => rows[0]?.wait_ms ?? null)(
    run<{ readonly wait_ms: number | null }>(sql, db, "tasksNextDue", [queue, lookBackMs]),
  );

type IdRow = { readonly id: string };
type TaskIdRow = { readonly task_id: string };

/** Fenced by (id, attempt); returns the ids actually written. */
export const tasksComplete = (
  sql: Sql,
  db: Queryable,
  ids: ReadonlyArray<string>,
  attempts: ReadonlyArray<number>,
  outputs: ReadonlyArray<string | null>,
) =>
  TE.map((rows: ReadonlyArray<IdRow>) => rows.map((row) => row.id))(
    run<IdRow>(sql, db, "tasksComplete", [ids, attempts, outputs]),
  );

/** What a write of successes that also claimed brought back. */
export interface CompletedAndClaimed {
  /** The ids actually completed (fenced as tasksComplete). */
  readonly completed: ReadonlyArray<string>;
  readonly claimed: ReadonlyArray<ClaimedRow>;
}

/** tasksComplete and tasksClaim in one statement: one round trip, one commit. */
export const tasksCompleteAndClaim = (
  sql: Sql,
  db: Queryable,
  ids: ReadonlyArray<string>,
  attempts: ReadonlyArray<number>,
  outputs: ReadonlyArray<string | null>,
  claim: {
    readonly queue: string;
    readonly limit: number;
    readonly workerId: string;
    readonly startable: number;
  },
) =>
  TE.map(
    (rows: ReadonlyArray<CompletedAndClaimed>): CompletedAndClaimed =>
      rows[0] ?? { completed: [], claimed: [] },
  )(
    run<CompletedAndClaimed>(sql, db, "tasksCompleteAndClaim", [
      ids,
      attempts,
      outputs,
      claim.queue,
      claim.limit,
      claim.workerId,
      claim.startable,
    ]),
  );

export type AttemptState = "failed" | "timed_out" | "lost" | "cancelled";

/** A failed attempt's error as stored: already cleaned and bounded (see errorText.ts). */
export interface AttemptError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | null;
}

export const tasksRetry = (
  sql: Sql,
  db: Queryable,
  id: string,
  attempt: number,
  error: AttemptError,
  delayMs: number,
  attemptState: AttemptState,
) =>
  TE.map((rows: ReadonlyArray<TaskIdRow>) => rows.length > 0)(
    run<TaskIdRow>(sql, db, "tasksRetry", [
      id,
      attempt,
      error.message,
      delayMs,
      attemptState,
      error.name,
      error.stack,
    ]),
  );

export const tasksFail = (
  sql: Sql,
  db: Queryable,
  id: string,
  attempt: number,
  error: AttemptError,
  attemptState: AttemptState,
  dlq: string | null,
) =>
  TE.map((rows: ReadonlyArray<TaskIdRow>) => rows.length > 0)(
    run<TaskIdRow>(sql, db, "tasksFail", [
      id,
      attempt,
      error.message,
      attemptState,
      dlq,
      error.name,
      error.stack,
    ]),
  );

/** A lease renewed: the task is still this attempt's; `cancel_requested` if a cancel awaits its handler. */
export interface HeartbeatRow {
  readonly id: string;
  readonly cancel_requested: boolean;
}

export const tasksHeartbeat = (
  sql: Sql,
  db: Queryable,
  ids: ReadonlyArray<string>,
  attempts: ReadonlyArray<number>,
) => run<HeartbeatRow>(sql, db, "tasksHeartbeat", [ids, attempts]);

export const tasksRelease = (
  sql: Sql,
  db: Queryable,
  ids: ReadonlyArray<string>,
  attempts: ReadonlyArray<number>,
) =>
  TE.map((rows: ReadonlyArray<IdRow>) => rows.map((row) => row.id))(
    run<IdRow>(sql, db, "tasksRelease", [ids, attempts]),
  );

/** Tasks reaped, each with the queue it was reaped from. */
export const tasksReap = (sql: Sql, db: Queryable, limit: number) =>
  TE.map((rows: ReadonlyArray<TaskIdRow & { readonly queue: string }>) =>
    rows.map((row) => ({ id: row.task_id, queue: row.queue })),
  )(run<TaskIdRow & { readonly queue: string }>(sql, db, "tasksReap", [limit]));

/** Column values of tasks to insert, one array per column. */
export interface EnqueueColumns {
  readonly inputs: string[];
  readonly maxAttempts: number[];
  readonly retryInitialMs: number[];
  readonly retryMaxMs: number[];
  readonly retryCoefficient: number[];
  readonly retryJitter: number[];
  readonly timeoutMs: number[];
  readonly heartbeatMs: number[];
  readonly ttlMs: number[];
  readonly priority: number[];
  readonly concurrencyKey: (string | null)[];
  readonly concurrencyLimit: number[];
  readonly uniqueKey: (string | null)[];
  readonly delayMs: number[];
  readonly jobId: (string | null)[];
  readonly stepIndex: (number | null)[];
}

const columnValues = (c: EnqueueColumns): ReadonlyArray<unknown> => [
  c.inputs,
  c.maxAttempts,
  c.retryInitialMs,
  c.retryMaxMs,
  c.retryCoefficient,
  c.retryJitter,
  c.timeoutMs,
  c.heartbeatMs,
  c.ttlMs,
  c.priority,
  c.concurrencyKey,
  c.concurrencyLimit,
  c.uniqueKey,
  c.delayMs,
  c.jobId,
  c.stepIndex,
];

type EnqueuedRow = { readonly id: string; readonly unique_key: string | null };

export const tasksEnqueue = (
  sql: Sql,
  db: Queryable,
  queue: string,
  columns: EnqueueColumns,
  trace: TraceCarrier | null = null,
) => run<EnqueuedRow>(sql, db, "tasksEnqueue", [queue, ...columnValues(columns), trace]);

/** Single-row form; `columns` holds exactly one row. */
export const tasksEnqueueOne = (
  sql: Sql,
  db: Queryable,
  queue: string,
  columns: EnqueueColumns,
  trace: TraceCarrier | null = null,
) =>
  TE.map((rows: ReadonlyArray<IdRow>) => rows[0]?.id)(
    run<IdRow>(sql, db, "tasksEnqueueOne", [
      queue,
      ...columnValues(columns).map((column) => (column as unknown[])[0]),
      trace,
    ]),
  );

/** Tasks that share every option: `columns` holds the options of its first row and all inputs. */
export const tasksEnqueueUniform = (
  sql: Sql,
  db: Queryable,
  queue: string,
  inputs: ReadonlyArray<string>,
  columns: EnqueueColumns,
  trace: TraceCarrier | null = null,
) =>
  run<EnqueuedRow>(sql, db, "tasksEnqueueUniform", [
    queue,
    inputs,
    ...columnValues(columns)
      .slice(1, 14)
      .map((column) => (column as unknown[])[0]),
    trace,
  ]);

export const tasksFindUnique = (sql: Sql, db: Queryable, queue: string, keys: ReadonlyArray<string>) =>
  run<EnqueuedRow & { readonly job_id: string | null }>(sql, db, "tasksFindUnique", [queue, keys]);

/** A task row as outcome streams describe it. */
export interface TaskRow {
  readonly id: string;
  readonly queue: string;
  readonly state: "pending" | "in_progress" | "succeeded" | "cancelled" | "failed";
  readonly attempt: number;
  readonly output: unknown;
  readonly error: string | null;
  readonly runAt: Date;
  readonly jobId: string | null;
  readonly stepIndex: number | null;
  readonly dlqFrom: string | null;
}

export const tasksGet = (sql: Sql, db: Queryable, id: string) =>
  TE.map((rows: ReadonlyArray<TaskRow>) => rows[0])(run<TaskRow>(sql, db, "tasksGet", [id]));

export const tasksGetMany = (sql: Sql, db: Queryable, ids: ReadonlyArray<string>) =>
  run<TaskRow>(sql, db, "tasksGetMany", [ids]);

export const tasksCancelRequested = (sql: Sql, db: Queryable, id: string, attempt: number) =>
  TE.map((rows: ReadonlyArray<{ readonly requested: boolean }>) => rows[0]?.requested === true)(
    run<{ readonly requested: boolean }>(sql, db, "tasksCancelRequested", [id, attempt]),
  );

/** One attempt of a task. */
export interface AttemptRow {
  /** The attempt's number, 1-based; it goes on counting after a redrive. */
  readonly attempt: number;
  /**
   * How it ended: `failed`, `timed_out`, `lost` (its lease expired, the
   * worker died), `cancelled` or `succeeded`; `in_progress` while it runs.
   */
  readonly state: string;
  /** The error's message; null for an attempt that succeeded or is running. */
  readonly error: string | null;
  /**
   * The thrown error's `name` (`"TypeError"`, `"FatalError"`, `"AbortError"` for
   * a timeout or shutdown, `"NonError"` for a thrown non-Error). Null when the
   * attempt did not end in the handler: it succeeded, is running, its lease
   * expired, or it was cancelled; and for attempts recorded before underway
   * stored names.
   */
  readonly errorName: string | null;
  /** The thrown error's stack, at most 16 KB; null when there was none (see `errorName`). */
  readonly errorStack: string | null;
  /** When a worker claimed the task for this attempt; null if not recorded. */
  readonly startedAt: Date | null;
  /** When the attempt ended; null while it runs. */
  readonly finishedAt: Date | null;
}

export const taskAttemptsList = (sql: Sql, db: Queryable, id: string) =>
  run<AttemptRow>(sql, db, "taskAttemptsList", [id]);

/** A queue's pause state after a pause or resume. */
export interface QueuePauseRow {
  readonly name: string;
  readonly pausedAt: Date | null;
}

export const queuesSetPaused = (sql: Sql, db: Queryable, queue: string, paused: boolean) =>
  run<QueuePauseRow>(sql, db, "queuesSetPaused", [queue, paused, `${sql.schema}.ready`]);

export const queuesGetPaused = (sql: Sql, db: Queryable, queue: string) =>
  TE.map((rows: ReadonlyArray<{ readonly pausedAt: Date | null }>) => rows[0]?.pausedAt ?? null)(
    run<{ readonly pausedAt: Date | null }>(sql, db, "queuesGetPaused", [queue]),
  );

export const queuesUpsert = (
  sql: Sql,
  db: Queryable,
  name: string,
  dlq: string | null,
  overwriteDlq: boolean,
) => TE.map(() => undefined)(run(sql, db, "queuesUpsert", [name, dlq, overwriteDlq]));

/** Next-step rows keyed by the task whose completion enqueues them. */
export interface ContinueColumns {
  readonly sourceIds: string[];
  readonly columns: EnqueueColumns;
}

export const tasksCompleteAndContinue = (
  sql: Sql,
  db: Queryable,
  ids: ReadonlyArray<string>,
  attempts: ReadonlyArray<number>,
  outputs: ReadonlyArray<string | null>,
  next: ContinueColumns,
) => {
  const c = next.columns;
  return TE.map((rows: ReadonlyArray<IdRow>) => rows.map((row) => row.id))(
    run<IdRow>(sql, db, "tasksCompleteAndContinue", [
      ids,
      attempts,
      outputs,
      next.sourceIds,
      // The job id comes from the completed row, not a parameter.
      ...columnValues(c).slice(0, 14),
      c.stepIndex,
    ]),
  );
};

/**
 * A transactional handler's success, in its own transaction (`db` is that
 * transaction's client): fenced by the attempt and by the lease, with the
 * job's next step, if any, inserted in the same statement. True if written.
 */
export const tasksCompleteLeased = (
  sql: Sql,
  db: Queryable,
  id: string,
  attempt: number,
  output: string | null,
  next: EnqueueColumns | undefined,
) => {
  // The next step's columns as arrays of one element (the job id comes
  // from the completed row), or of none.
  const nextValues =
    next === undefined
      ? Array.from({ length: 15 }, () => [])
      : [...columnValues(next).slice(0, 14), next.stepIndex].map((values) =>
          (values as unknown[]).slice(0, 1),
        );
  return TE.map((rows: ReadonlyArray<IdRow>) => rows.length > 0)(
    run<IdRow>(sql, db, "tasksCompleteLeased", [id, attempt, output, ...nextValues]),
  );
};

/** Cancels the query a backend is running (an aborted transactional handler's). */
export const backendsCancel = (sql: Sql, db: Queryable, pid: number) =>
  TE.map(() => undefined)(run(sql, db, "backendsCancel", [pid]));

type CancelledRow = { readonly id: string; readonly previous: string };

/**
 * Cancels a task (by id) or every live task of a job (by job id): pending
 * ones at once, running ones by request (see tasksCancel.sql). A job's
 * cancel must run in a transaction after {@link tasksLockJob}.
 */
export const tasksCancel = (
  sql: Sql,
  db: Queryable,
  taskId: string | null,
  jobId: string | null,
  queue: string,
) => run<CancelledRow>(sql, db, "tasksCancel", [taskId, jobId, `${sql.schema}.cancel`, queue]);

/** Locks a job against step completions until the transaction ends. */
export const tasksLockJob = (sql: Sql, db: Queryable, jobId: string) => run(sql, db, "tasksLockJob", [jobId]);

export const tasksGetLatestOfJob = (sql: Sql, db: Queryable, jobId: string) =>
  TE.map((rows: ReadonlyArray<TaskRow>) => rows[0])(run<TaskRow>(sql, db, "tasksGetLatestOfJob", [jobId]));

/** One batch of the retention sweep; returns the ids deleted. */
export const tasksDeleteExpired = (sql: Sql, db: Queryable, limit: number) =>
  TE.map((rows: ReadonlyArray<IdRow>) => rows.map((row) => row.id))(
    run<IdRow>(sql, db, "tasksDeleteExpired", [limit]),
  );

/** Which dead-lettered tasks a redrive moves; `null` leaves a criterion out. */
export interface RedriveSelection {
  readonly ids: ReadonlyArray<string> | null;
  readonly errorLike: string | null;
  readonly failedBefore: Date | null;
}

/** One batch of a redrive; returns the ids moved. */
export const tasksRedrive = (
  sql: Sql,
  db: Queryable,
  dlq: string,
  selection: RedriveSelection,
  limit: number,
) =>
  TE.map((rows: ReadonlyArray<IdRow>) => rows.map((row) => row.id))(
    run<IdRow>(sql, db, "tasksRedrive", [
      dlq,
      selection.ids,
      selection.errorLike,
      selection.failedBefore,
      limit,
      `${sql.schema}.ready`,
    ]),
  );

/** Something that happened to a task besides its attempts. */
export interface EventRow {
  /** What happened; `"redriven"` is the only kind so far. */
  readonly kind: string;
  /** The task's attempt number when it happened. */
  readonly attempt: number;
  /** When it happened. */
  readonly at: Date;
  /**
   * Facts of the event; for `redriven`: `from` (the dead-letter queue),
   * `to` (the queue it went back to) and `maxAttempts` (its new budget).
   */
  readonly details: Readonly<Record<string, unknown>>;
}

export const taskEventsList = (sql: Sql, db: Queryable, id: string) =>
  run<EventRow>(sql, db, "taskEventsList", [id]);

export const queueWaitersUpsert = (sql: Sql, db: Queryable, queue: string, workerId: string, ttlMs: number) =>
  TE.map(() => undefined)(run(sql, db, "queueWaitersUpsert", [queue, workerId, ttlMs]));

export const queueWaitersDelete = (sql: Sql, db: Queryable, queue: string, workerId: string) =>
  TE.map(() => undefined)(run(sql, db, "queueWaitersDelete", [queue, workerId]));

export const outcomeListenersUpsert = (sql: Sql, db: Queryable, listenerId: string, ttlMs: number) =>
  TE.map(() => undefined)(run(sql, db, "outcomeListenersUpsert", [listenerId, ttlMs]));

export const outcomeListenersDelete = (sql: Sql, db: Queryable, listenerId: string) =>
  TE.map(() => undefined)(run(sql, db, "outcomeListenersDelete", [listenerId]));
