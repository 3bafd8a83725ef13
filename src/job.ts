import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import * as t from "io-ts";
import {
  Observable,
  filter,
  firstValueFrom,
  from,
  map,
  merge,
  mergeMap,
  of,
  share,
  timer,
  defer,
  EMPTY,
} from "rxjs";
import { decodeWith } from "./codec.ts";
import { TaskFailedError, UnderwayError, ValidationError, type DecodeError } from "./errors.ts";
import { resolveTaskOptions, type TaskOptions, type TaskOptionsInput } from "./options.ts";
import {
  decodeOutcomePayload,
  toOutcome,
  type FinalOutcome,
  type Outcome,
  type OutcomeSource,
} from "./outcomes.ts";
import {
  taskAttemptsList,
  tasksEnqueue,
  tasksEnqueueOne,
  tasksEnqueueUniform,
  tasksFindUnique,
  tasksGet,
  tasksCancel,
  type AttemptRow,
  type ClaimedRow,
  type EnqueueColumns,
  type Queryable,
} from "./queries.ts";
import type { Queue } from "./queue.ts";
import { orThrow, type Underway } from "./underway.ts";
import type { Handler } from "./worker/execute.ts";
import { WorkerRun, type WorkOptions } from "./worker/worker.ts";

/** A job's options: task options for all its tasks, plus per-input overrides and an output codec. */
export type JobOptions<I, O> = TaskOptionsInput & {
  /** Overrides computed from each input, applied over the job's options. */
  readonly optionsFor?: (input: I) => TaskOptionsInput;
  /** Codec of the handler's result, for outcomes read in other processes. */
  readonly output?: t.Type<O, unknown, unknown>;
};

/** Per-enqueue options, applied last. */
export type EnqueueOptions = TaskOptionsInput & {
  /** Run no earlier than this time (instead of `delayMs`). */
  readonly runAt?: Date;
  /** Your pg client, inside your transaction: the task exists if and only if you commit. */
  readonly client?: Queryable;
};

/**
 * @internal The first final outcome among notifications and reads of the
 * row: the read starts once LISTEN is active and repeats as a fallback for a
 * lost notification, so it also finds outcomes that came before the call.
 */
export const firstFinal = <T extends { readonly _tag: string }>(
  underway: Underway,
  notified$: Observable<T>,
  read: () => Promise<T | undefined>,
  pollIntervalMs = 1_000,
): Promise<Exclude<T, { _tag: "retrying" }>> => {
  const final = (outcome: T | undefined): outcome is Exclude<T, { _tag: "retrying" }> =>
    outcome !== undefined && outcome._tag !== "retrying" && outcome._tag !== "stepSucceeded";
  // Reads at 0, 1, 2, 4, 8, 16 polls, then every 30: many waiters on long
  // tasks cost little, and a lost notification is still found.
  const read$ = defer(() => underway.listening()).pipe(
    mergeMap(() => timer(0, pollIntervalMs)),
    filter((n) => (n & (n - 1)) === 0 || n % 30 === 0),
    mergeMap(read),
  );
  // closed$ errors when the client closes: a wait still pending then rejects with ClosedError.
  return firstValueFrom(merge(notified$, read$, underway.closed$).pipe(filter(final)));
};

/** @internal How multi-step jobs (src/steps.ts) bend a job's task handling. */
export interface JobInternals<I, O> {
  /** Decodes a claimed task's input (steps after the first have no queue codec). */
  readonly decodeTaskInput?: (value: unknown, row: ClaimedRow) => E.Either<DecodeError, I>;
  /** The next step to enqueue in the statement that completes this one. */
  readonly continuation?: (output: O, row: ClaimedRow) => EnqueueColumns | undefined;
}

/** A started worker: its outcome stream and a graceful stop. */
export interface Worker<O> {
  /** Outcomes of the tasks this worker ran. */
  readonly outcomes$: Observable<Outcome<O>>;
  /** Stops claiming, lets in-flight tasks finish (up to the grace period), resolves when all is written. */
  stop(): Promise<void>;
}

// Rows per INSERT statement of enqueueMany: one array parameter per column,
// so the limit is memory per statement, not the 65,535 bind parameters.
const enqueueChunk = 5_000;

const identity = <A>(value: A): E.Either<never, A> => E.right(value);

/**
 * A queue's task type with its handler: enqueue typed inputs, run workers,
 * observe outcomes.
 *
 * @example
 * const job = Job.of(underway, queue, async ({ email }) => { await send(email); return { sent: true }; });
 * const id = await job.enqueue({ userId: 42, email: "ferris@example.com", name: "Ferris" });
 * job.work({ concurrency: 16 }).subscribe((outcome) => console.log(outcome));
 */
export class Job<I, O> {
  private readonly decodeInput: (value: unknown) => E.Either<DecodeError, I>;
  private readonly decodeOutput: (value: unknown) => E.Either<unknown, O>;

  private constructor(
    readonly underway: Underway,
    readonly queue: Queue<I, unknown>,
    readonly handler: Handler<I, O>,
    readonly options: JobOptions<I, O>,
    private readonly internals: JobInternals<I, O> = {},
  ) {
    this.decodeInput = decodeWith(queue.input);
    const output = options.output;
    this.decodeOutput =
      output === undefined ? (identity as (value: unknown) => E.Either<never, O>) : decodeWith(output);
    resolveTaskOptions(options);
  }

  /** @internal A job whose tasks are decoded and continued differently (multi-step jobs). */
  static withInternals<I, O>(
    underway: Underway,
    queue: Queue<I, unknown>,
    handler: Handler<I, O>,
    options: JobOptions<I, O>,
    internals: JobInternals<I, O>,
  ): Job<I, O> {
    return new Job(underway, queue, handler, options, internals);
  }

  static of<I, IO, O>(
    underway: Underway,
    queue: Queue<I, IO>,
    handler: Handler<I, O>,
    options: JobOptions<I, O> = {},
  ): Job<I, O> {
    return new Job(underway, queue as Queue<I, unknown>, handler, options);
  }

  private validate(input: I, index?: number): I {
    return pipe(
      this.decodeInput(input),
      E.getOrElseW((error) => {
        throw new ValidationError(
          `invalid input for queue ${this.queue.name}${index === undefined ? "" : ` (item ${index})`}`,
          error,
        );
      }),
    );
  }

  private optionsOf(input: I, enqueue: EnqueueOptions | undefined): TaskOptions {
    const runAtDelay =
      enqueue?.runAt === undefined
        ? undefined
        : { delayMs: Math.max(0, enqueue.runAt.getTime() - Date.now()) };
    return resolveTaskOptions(this.options, this.options.optionsFor?.(input), enqueue, runAtDelay);
  }

  /** @internal Columns for inputs that passed validation. */
  columnsOf(
    inputs: ReadonlyArray<I>,
    enqueue: EnqueueOptions | undefined,
    extra?: {
      readonly jobId: string;
      readonly stepIndex: number;
      /** Serialises inputs that are not the queue's (later steps of a job). */
      readonly encode?: (input: I) => unknown;
    },
  ): EnqueueColumns {
    const columns: EnqueueColumns = {
      inputs: [],
      maxAttempts: [],
      retryInitialMs: [],
      retryMaxMs: [],
      retryCoefficient: [],
      retryJitter: [],
      timeoutMs: [],
      heartbeatMs: [],
      ttlMs: [],
      priority: [],
      concurrencyKey: [],
      concurrencyLimit: [],
      uniqueKey: [],
      delayMs: [],
      jobId: [],
      stepIndex: [],
    };
    for (const input of inputs) {
      const options = this.optionsOf(input, enqueue);
      columns.inputs.push(JSON.stringify((extra?.encode ?? this.queue.input.encode)(input)));
      columns.maxAttempts.push(options.retry.maxAttempts);
      columns.retryInitialMs.push(options.retry.initialIntervalMs);
      columns.retryMaxMs.push(options.retry.maxIntervalMs);
      columns.retryCoefficient.push(options.retry.backoffCoefficient);
      columns.retryJitter.push(options.retry.jitter);
      columns.timeoutMs.push(options.timeoutMs);
      columns.heartbeatMs.push(options.heartbeatMs);
      columns.ttlMs.push(options.ttlMs);
      columns.priority.push(options.priority);
      columns.concurrencyKey.push(options.concurrencyKey);
      columns.concurrencyLimit.push(options.concurrencyLimit);
      columns.uniqueKey.push(options.uniqueKey);
      columns.delayMs.push(options.delayMs);
      columns.jobId.push(extra?.jobId ?? null);
      columns.stepIndex.push(extra?.stepIndex ?? null);
    }
    return columns;
  }

  /**
   * Validates and enqueues one task; resolves with its id. Invalid input
   * rejects with a `ValidationError` naming the bad fields, and nothing is
   * written. With `uniqueKey`, a live task holding the key is returned instead.
   */
  async enqueue(input: I, options?: EnqueueOptions): Promise<string> {
    const valid = this.validate(input);
    const columns = this.columnsOf([valid], options);
    const db = options?.client ?? this.underway.pool;
    const { sql } = this.underway;
    const uniqueKey = columns.uniqueKey[0] ?? null;
    // A conflicting task may finish between the insert and the look-up; then
    // the key is free again and the insert is retried.
    for (let tries = 0; tries < 3; tries += 1) {
      const id = await orThrow(tasksEnqueueOne(sql, db, this.queue.name, columns)());
      if (id !== undefined) return id;
      if (uniqueKey === null) break;
      const existing = await orThrow(tasksFindUnique(sql, db, this.queue.name, [uniqueKey])());
      if (existing[0] !== undefined) return existing[0].id;
    }
    throw new UnderwayError(`enqueue on queue ${this.queue.name} returned no id`);
  }

  /** Enqueues after a delay. Same as `enqueue(input, { delayMs })`. */
  enqueueAfter(input: I, delayMs: number, options?: EnqueueOptions): Promise<string> {
    return this.enqueue(input, { ...options, delayMs });
  }

  /**
   * Validates every input first (one bad input rejects the whole batch,
   * naming its index, and nothing is written), then inserts them in chunks of
   * one statement each, inside one transaction. Ids come back in input order.
   */
  async enqueueMany(inputs: ReadonlyArray<I>, options?: EnqueueOptions): Promise<string[]> {
    const valid = inputs.map((input, index) => this.validate(input, index));
    if (valid.length === 0) return [];
    if (options?.client !== undefined) return this.insertMany(options.client, valid, options);
    const client = await this.underway.pool.connect();
    try {
      await client.query("begin");
      const ids = await this.insertMany(client, valid, options);
      await client.query("commit");
      return ids;
    } catch (error) {
      await client.query("rollback").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async insertMany(
    db: Queryable,
    inputs: ReadonlyArray<I>,
    options: EnqueueOptions | undefined,
  ): Promise<string[]> {
    const ids: string[] = [];
    const { sql } = this.underway;
    // Without per-input overrides every row shares its options: resolve them
    // once and send only the inputs as an array.
    const uniform = this.options.optionsFor === undefined && inputs[0] !== undefined;
    const shared = uniform ? this.columnsOf(inputs.slice(0, 1), options) : undefined;
    for (let start = 0; start < inputs.length; start += enqueueChunk) {
      const chunk = inputs.slice(start, start + enqueueChunk);
      const [rows, uniqueKeys] =
        shared === undefined
          ? await this.insertChunk(db, this.columnsOf(chunk, options))
          : [
              await orThrow(
                tasksEnqueueUniform(
                  sql,
                  db,
                  this.queue.name,
                  chunk.map((input) => JSON.stringify(this.queue.input.encode(input))),
                  shared,
                )(),
              ),
              chunk.map(() => shared.uniqueKey[0] ?? null),
            ];
      ids.push(...(await this.idsInOrder(db, rows, uniqueKeys)));
    }
    return ids;
  }

  private async insertChunk(db: Queryable, columns: EnqueueColumns) {
    const rows = await orThrow(tasksEnqueue(this.underway.sql, db, this.queue.name, columns)());
    return [rows, columns.uniqueKey] as const;
  }

  /**
   * Inserted rows come back in input order; where a unique key was taken,
   * the input gets the id of the live task holding it.
   */
  private async idsInOrder(
    db: Queryable,
    rows: ReadonlyArray<{ readonly id: string; readonly unique_key: string | null }>,
    uniqueKeys: ReadonlyArray<string | null>,
  ): Promise<string[]> {
    if (rows.length === uniqueKeys.length) return rows.map((row) => row.id);
    const taken = uniqueKeys.filter((key): key is string => key !== null);
    const existing = await orThrow(tasksFindUnique(this.underway.sql, db, this.queue.name, taken)());
    const byKey = new Map([...existing, ...rows].map((row) => [row.unique_key, row.id]));
    let next = 0;
    const unkeyed = rows.filter((row) => row.unique_key === null);
    return uniqueKeys.map((key) => {
      const id = key === null ? unkeyed[next++]?.id : byKey.get(key);
      if (id === undefined)
        throw new UnderwayError(`enqueueMany on queue ${this.queue.name} lost track of an id`);
      return id;
    });
  }

  /**
   * Outcomes of this queue's tasks, from every process (LISTEN/NOTIFY).
   * Hot: it reports what happens while subscribed.
   */
  get outcomes$(): Observable<Outcome<O>> {
    const { sql, pool } = this.underway;
    const name = this.queue.name;
    return this.underway.outcomeFeed.payloads$.pipe(
      mergeMap((text) => {
        const payload = pipe(
          E.tryCatch(
            () => JSON.parse(text) as unknown,
            () => undefined,
          ),
          E.chainW(decodeOutcomePayload),
        );
        if (E.isLeft(payload)) return EMPTY;
        const source = payload.right;
        if (source.queue !== name && source.dlqFrom !== name) return EMPTY;
        if (source.truncated !== true) return of(source as OutcomeSource);
        return from(orThrow(tasksGet(sql, pool, source.id)())).pipe(
          filter((row): row is NonNullable<typeof row> => row !== undefined),
          map((row): OutcomeSource => ({ ...row, state: source.state, attempt: source.attempt })),
        );
      }),
      map((source) => toOutcome(source, this.decodeOutput)),
      filter((outcome): outcome is Outcome<O> => outcome !== undefined && outcome.queue === name),
      share(),
    );
  }

  /**
   * The final outcome of a task, also when it finished before the call.
   * Listens for it, and reads the row as a fallback for lost notifications.
   */
  outcome(taskId: string, options: { readonly pollIntervalMs?: number } = {}): Promise<FinalOutcome<O>> {
    const { sql, pool } = this.underway;
    return firstFinal(
      this.underway,
      this.outcomes$.pipe(filter((outcome) => outcome.taskId === taskId)),
      async () => {
        const row = await orThrow(tasksGet(sql, pool, taskId)());
        if (row === undefined) throw new UnderwayError(`no task with id ${taskId}`);
        return toOutcome(row, this.decodeOutput);
      },
      options.pollIntervalMs,
    );
  }

  /** The task's output once it succeeds; rejects with `TaskFailedError` if it fails or is cancelled. */
  async result(taskId: string): Promise<O> {
    const outcome = await this.outcome(taskId);
    if (outcome._tag === "succeeded") return outcome.output;
    throw new TaskFailedError(taskId, outcome._tag, outcome._tag === "failed" ? outcome.error : null);
  }

  /**
   * Cancels a task: pending, it becomes cancelled at once; running, its
   * handler's signal fires in whichever process runs it. Resolves true if it
   * was pending or running.
   */
  async cancel(taskId: string): Promise<boolean> {
    const rows = await orThrow(tasksCancel(this.underway.sql, this.underway.pool, taskId, null)());
    return rows.length > 0;
  }

  /** Every attempt of a task so far, oldest first. */
  attempts(taskId: string): Promise<ReadonlyArray<AttemptRow>> {
    return orThrow(taskAttemptsList(this.underway.sql, this.underway.pool, taskId)());
  }

  /** Starts a worker now; `stop()` ends it gracefully. */
  start(options: WorkOptions = {}): Worker<O> {
    this.underway.assertOpen();
    const outcomes$ = new Observable<Outcome<O>>((subscriber) => {
      const run = new WorkerRun(
        {
          sql: this.underway.sql,
          pool: this.underway.pool,
          queue: this.queue.name,
          dlq: this.queue.dlq,
          decodeInput: this.internals.decodeTaskInput ?? this.decodeInput,
          continuation: this.internals.continuation,
          encodeOutput: this.options.output?.encode ?? ((output: O) => output),
          handler: this.handler,
          log: this.underway.log,
          listener: this.underway.listener,
        },
        options,
        (outcome) => subscriber.next(outcome),
      );
      const untrack = this.underway.track(run);
      run.start();
      const { listener, sql } = this.underway;
      const broadcast = listener
        .channel$(`${sql.schema}.shutdown`)
        .pipe(filter((name) => name === this.queue.name))
        .subscribe(() => void stop());
      stop = () =>
        run.stop().finally(() => {
          broadcast.unsubscribe();
          untrack();
          subscriber.complete();
        });
      return () => void stop();
    }).pipe(share());
    let stop: () => Promise<void> = async () => undefined;
    const keepAlive = outcomes$.subscribe();
    return {
      outcomes$,
      stop: async () => {
        await stop();
        keepAlive.unsubscribe();
      },
    };
  }

  /**
   * A worker as an Observable of its outcomes: subscribing runs it,
   * unsubscribing stops it gracefully (no new claims, in-flight tasks finish).
   */
  work(options: WorkOptions = {}): Observable<Outcome<O>> {
    return new Observable<Outcome<O>>((subscriber) => {
      const worker = this.start(options);
      const sub = worker.outcomes$.subscribe(subscriber);
      return () => {
        sub.unsubscribe();
        void worker.stop();
      };
    });
  }
}
