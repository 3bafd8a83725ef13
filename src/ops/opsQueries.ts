import * as TE from "fp-ts/lib/TaskEither.js";
import type pg from "pg";
import { dbError, type DbError } from "../errors.ts";
import { quoteSchema } from "../identifier.ts";
import { run, type Queryable, type Sql } from "../queries.ts";
import type { ListOrder } from "./cursor.ts";
import type { Predicate } from "./taskFilter.ts";
import type { TaskState } from "./types.ts";

/** The schema as SQL text (validated and quoted), for casts in generated conditions. */
export const schemaOf = (sql: Sql): string => quoteSchema(sql.schema);

/**
 * Runs a query of `db/queries/` whose WHERE clause is built from a filter:
 * `{{where}}` becomes the filter's fixed fragments (values stay bind
 * parameters), `{{after}}`/`{{direction}}` the list order. Unnamed, so each
 * call is planned for its own values: a generic plan could not tell a
 * filter with a job id from one without.
 */
export const runFiltered = <R extends pg.QueryResultRow>(
  sql: Sql,
  db: Queryable,
  name: string,
  values: ReadonlyArray<unknown>,
  predicate: Predicate,
  order: ListOrder = "oldest",
): TE.TaskEither<DbError, ReadonlyArray<R>> =>
  TE.tryCatch(
    async () => {
      const template = sql.queries[name];
      if (template === undefined) throw new Error(`no query named ${name} in db/queries`);
      const text = template
        .replaceAll("{{where}}", `(${predicate.text})`)
        .replaceAll("{{after}}", order === "newest" ? "<" : ">")
        .replaceAll("{{direction}}", order === "newest" ? "desc" : "asc");
      const result = await db.query<R>({ text, values: [...values, ...predicate.values] });
      return result.rows;
    },
    (cause) => dbError(name, cause),
  );

/** The filled-in text of a query of `db/queries/` (see {@link runFiltered}), without its comment lines. */
const templateOf = (sql: Sql, name: string): string => {
  const template = sql.queries[name];
  if (template === undefined) throw new Error(`no query named ${name} in db/queries`);
  return template
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("--"))
    .join("\n");
};

/**
 * A page merged from one branch per (queue, state) pair: `$1` the cursor's
 * id, `$2` the rows wanted, then the predicate's values, then each queue
 * and each state once. Unnamed, so every branch is planned for its pair.
 */
export const runPairs = <R extends pg.QueryResultRow>(
  sql: Sql,
  db: Queryable,
  queues: ReadonlyArray<string>,
  states: ReadonlyArray<TaskState>,
  after: string | null,
  rows: number,
  predicate: Predicate,
  order: ListOrder,
): TE.TaskEither<DbError, ReadonlyArray<R>> =>
  TE.tryCatch(
    async () => {
      const direction = order === "newest" ? "desc" : "asc";
      const queueParam = (index: number) => `$${3 + predicate.values.length + index}`;
      const stateParam = (index: number) => `$${3 + predicate.values.length + queues.length + index}`;
      const branch = templateOf(sql, "opsTasksPairBranch")
        .replaceAll("{{where}}", `(${predicate.text})`)
        .replaceAll("{{after}}", order === "newest" ? "<" : ">")
        .replaceAll("{{direction}}", direction);
      const branches = queues.flatMap((_, q) =>
        states.map((_, s) =>
          branch.replaceAll("{{queue}}", queueParam(q)).replaceAll("{{state}}", stateParam(s)),
        ),
      );
      const text = templateOf(sql, "opsTasksByPair")
        .replace("{{branches}}", branches.join("\nunion all\n"))
        .replaceAll("{{direction}}", direction);
      const result = await db.query<R>({
        text,
        values: [after, rows, ...predicate.values, ...queues, ...states],
      });
      return result.rows;
    },
    (cause) => dbError("opsTasksByPair", cause),
  );

export const opsQueueNames = (sql: Sql, db: Queryable) =>
  TE.map((rows: ReadonlyArray<{ readonly name: string }>) => rows.map((row) => row.name))(
    run<{ readonly name: string }>(sql, db, "opsQueueNames", []),
  );

/** A task row as lists return it (`sort_id` is the raw id the page sorted on). */
export interface SummaryRow {
  readonly sort_id: string;
  readonly id: string;
  readonly queue: string;
  readonly state: TaskState;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: number;
  readonly concurrencyKey: string | null;
  readonly jobId: string | null;
  readonly stepIndex: number | null;
  readonly error: string | null;
  readonly runAt: Date;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

/** One task with its options, lease and I/O. */
export interface DetailRow extends Omit<SummaryRow, "sort_id"> {
  readonly input: unknown;
  readonly output: unknown;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly retryCoefficient: number;
  readonly retryJitter: number;
  readonly timeoutMs: number;
  readonly heartbeatMs: number;
  readonly ttlMs: number;
  readonly concurrencyLimit: number;
  readonly uniqueKey: string | null;
  readonly workerId: string | null;
  readonly leaseExpiresAt: Date | null;
  readonly dlqFrom: string | null;
  readonly cancelRequestedAt: Date | null;
}

export const opsTaskDetail = (sql: Sql, db: Queryable, id: string) =>
  TE.map((rows: ReadonlyArray<DetailRow>) => rows[0])(run<DetailRow>(sql, db, "opsTaskDetail", [id]));

/** Per (queue, state): the planner's estimate, and an exact count when that is small. */
export interface CountRow {
  readonly queue: string;
  readonly state: TaskState;
  readonly estimate: number;
  readonly exact: number | null;
}

export const opsQueueCounts = (sql: Sql, db: Queryable, bound: number) =>
  run<CountRow>(sql, db, "opsQueueCounts", [bound]);

/** A queue's settings and backlog age. */
export interface QueueRow {
  readonly queue: string;
  readonly dlq: string | null;
  readonly pausedAt: Date | null;
  readonly oldestPendingAgeSeconds: number | null;
}

export const opsQueuesList = (sql: Sql, db: Queryable, queues: ReadonlyArray<string>) =>
  run<QueueRow>(sql, db, "opsQueuesList", [queues]);

/** A throughput row. */
export interface ThroughputRow {
  readonly queue: string;
  readonly at: Date;
  readonly enqueued: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly retried: number;
  readonly cancelled: number;
}

export const queueStatsList = (sql: Sql, db: Queryable, queue: string | null, since: Date) =>
  run<ThroughputRow>(sql, db, "queueStatsList", [queue, since]);

/** Counter deltas, one array per column, one element per (queue, minute). */
export interface StatDeltas {
  readonly queues: string[];
  readonly buckets: Date[];
  readonly enqueued: number[];
  readonly succeeded: number[];
  readonly failed: number[];
  readonly retried: number[];
  readonly cancelled: number[];
}

export const queueStatsAdd = (sql: Sql, db: Queryable, d: StatDeltas) =>
  TE.map(() => undefined)(
    run(sql, db, "queueStatsAdd", [
      d.queues,
      d.buckets,
      d.enqueued,
      d.succeeded,
      d.failed,
      d.retried,
      d.cancelled,
    ]),
  );

export const queueStatsPrune = (sql: Sql, db: Queryable, keepDays: number) =>
  TE.map(() => undefined)(run(sql, db, "queueStatsPrune", [keepDays]));

/** A live process of the worker registry. */
export interface WorkerProcessRow {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly queues: ReadonlyArray<{ readonly queue: string; readonly concurrency: number }>;
  readonly startedAt: Date;
  readonly heartbeatAt: Date;
  readonly heartbeatAgeSeconds: number;
}

export const workerProcessesUpsert = (
  sql: Sql,
  db: Queryable,
  id: string,
  host: string,
  pid: number,
  queues: string,
  deadAfterSeconds: number,
) =>
  TE.map(() => undefined)(run(sql, db, "workerProcessesUpsert", [id, host, pid, queues, deadAfterSeconds]));

export const workerProcessesDelete = (sql: Sql, db: Queryable, id: string) =>
  TE.map(() => undefined)(run(sql, db, "workerProcessesDelete", [id]));

export const workerProcessesList = (sql: Sql, db: Queryable, liveSeconds: number) =>
  run<WorkerProcessRow>(sql, db, "workerProcessesList", [liveSeconds]);

/** A stored schedule. */
export interface ScheduleListRow {
  readonly queue: string;
  readonly cron: string;
  readonly timeZone: string;
  readonly input: unknown;
}

export const schedulesList = (sql: Sql, db: Queryable) => run<ScheduleListRow>(sql, db, "schedulesList", []);
