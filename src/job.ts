import * as E from "fp-ts/lib/Either.js";
import { hostname } from "node:os";
import { pipe } from "fp-ts/lib/function.js";
import { Observable, filter, firstValueFrom, map, merge, mergeMap, share, timer, defer } from "rxjs";
import type { Stored } from "./codec.ts";
import type { JobDefinition } from "./definition.ts";
import {
  ConfigError,
  DatabaseError,
  TaskFailedError,
  UnderwayError,
  ValidationError,
  messageOf,
  orThrow,
  type DecodeError,
} from "./errors.ts";
import { checkTaskId } from "./identifier.ts";
import { resolveTaskOptions, type TaskOptions, type TaskOptionsInput } from "./options.ts";
import { toOutcome, type FinalOutcome, type Outcome } from "./outcomes.ts";
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
import type { Underway } from "./underway.ts";
import type { TraceCarrier } from "./events/taskEvents.ts";
import type { Handler } from "./worker/execute.ts";
import { checkPoolSize, transactionalConcurrency } from "./worker/poolSize.ts";
import {
  drain,
  runOne,
  type DrainOptions,
  type DrainResult,
  type RunOnceDeps,
  type RunOnceOptions,
} from "./worker/runOnce.ts";
import { isTransactional } from "./worker/transactional.ts";
import { WorkerRun, type WorkOptions } from "./worker/worker.ts";
import { checkWorkOptions } from "./worker/workOptions.ts";
import { yieldingBuffer } from "./worker/yieldingBuffer.ts";

/** Per-enqueue options, applied last. */
export type EnqueueOptions = TaskOptionsInput & {
  /** Run no earlier than this time (instead of `delayMs`). */
  readonly runAt?: Date | undefined;
  /** Your pg client, inside your transaction: the task exists if and only if you commit. */
  readonly client?: Queryable | undefined;
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

/**
 * @internal A waiter's fallback read of a task row, batched with other
 * waiters' reads. A transient database error is `"retry"` (the next poll
 * reads again): a waiter outlives a busy pool or a restart as workers do.
 */
export const readRow = async (underway: Underway, taskId: string) => {
  const read = await underway.outcomeFeed.read(taskId);
  if (E.isRight(read)) return read.right;
  if (read.left.transient) return "retry" as const;
  throw new DatabaseError(read.left);
};

/** @internal How multi-step jobs (src/steps.ts) bend a job's task handling. */
export interface JobInternals<V, O> {
  /** Decodes a claimed task's input (steps after the first have no queue codec). */
  readonly decodeTaskInput?: (value: unknown, row: ClaimedRow) => E.Either<DecodeError, V>;
  /** The next step to enqueue in the statement that completes this one. */
  readonly continuation?: (output: O, row: ClaimedRow) => EnqueueColumns | undefined;
  /** Checks a returned value; gives its stored form and the value readers see. */
  readonly encodeOutput?: (returned: unknown, row: ClaimedRow) => Stored<O>;
  /** Which tasks run in a transaction of their own (steps marked `transactional`); unset if none. */
  readonly transactional?: (row: ClaimedRow) => boolean;
}

/** A started worker: its outcome stream and a graceful stop. */
export interface Worker<O> {
  /** Outcomes of the tasks this worker ran. */
  readonly outcomes$: Observable<Outcome<O>>;
  /** Stops claiming, lets in-flight tasks finish (up to the grace period), resolves when all is written. */
  stop(): Promise<void>;
}

/** @internal A validated input: the value handlers see, and its stored JSON form and text. */
export type CheckedInput<V> = Stored<V>;

// How long close() lets a runOnce/drain handler finish, as a worker's default shutdownGraceMs.
const runHereGraceMs = 30_000;

// Rows per INSERT statement of enqueueMany: one array parameter per column,
// so the limit is memory per statement, not the 65,535 bind parameters.
const enqueueChunk = 5_000;

/**
 * A task type bound to a client: enqueue typed inputs, follow outcomes, and
 * (in a worker process) run a handler. Get it with `underway.job(definition)`.
 *
 * @example
 * const emails = underway.job(welcomeEmail);
 * const id = await emails.enqueue({ userId: 42, email: "ferris@example.com", name: "Ferris" });
 * console.log(await emails.result(id));
 * // in the worker process:
 * const worker = underway.job(welcomeEmail).start(async ({ email }) => ({ sentAt: await send(email) }));
 */
export class Job<In, V, R, O> {
  /** @internal Use `underway.job(definition)`. */
  constructor(
    /** The client this handle uses. */
    readonly underway: Underway,
    /** The task type. */
    readonly definition: JobDefinition<In, V, R, O>,
  ) {}

  /** The queue's name. */
  get queue(): string {
    return this.definition.queue;
  }

  /** @internal Validates an input against the definition's schema (and jsonb), or throws `ValidationError`. */
  check(input: In, index?: number): CheckedInput<V> {
    return pipe(
      this.definition.input.check(input),
      E.getOrElseW((error) => {
        throw new ValidationError(
          `invalid input for queue ${this.queue}${index === undefined ? "" : ` (item ${index})`}`,
          error,
        );
      }),
    );
  }

  private optionsOf(value: V, enqueue: EnqueueOptions | undefined): TaskOptions {
    const runAt = enqueue?.runAt;
    if (runAt !== undefined && !(runAt instanceof Date && Number.isFinite(runAt.getTime())))
      throw new ConfigError(
        `invalid enqueue option: runAt must be a valid Date, got ${String(runAt).slice(0, 40)}`,
      );
    if (runAt !== undefined && enqueue?.delayMs !== undefined)
      throw new ConfigError("invalid enqueue option: give delayMs or runAt, not both");
    const runAtDelay =
      runAt === undefined ? undefined : { delayMs: Math.max(0, runAt.getTime() - Date.now()) };
    const { client: _client, runAt: _runAt, ...overrides } = enqueue ?? {};
    return resolveTaskOptions(
      this.definition.options,
      this.definition.optionsFor?.(value),
      overrides,
      runAtDelay,
    );
  }

  /** @internal Columns for inputs that passed validation. */
  columnsOf(
    inputs: ReadonlyArray<CheckedInput<V>>,
    enqueue: EnqueueOptions | undefined,
    extra?: {
      readonly jobId: string;
      readonly stepIndex: number;
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
      const options = this.optionsOf(input.value, enqueue);
      columns.inputs.push(input.json);
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
   *
   * @example
   * const id = await emails.enqueue({ userId: 42, email: "ferris@example.com", name: "Ferris" });
   * // in your transaction: the task exists if and only if you commit
   * await emails.enqueue(input, { client, uniqueKey: `welcome:${userId}`, delayMs: 60_000 });
   */
  async enqueue(input: In, options?: EnqueueOptions): Promise<string> {
    const valid = this.check(input);
    const columns = this.columnsOf([valid], options);
    await this.underway.register(this.definition);
    const db = options?.client ?? this.underway.pool;
    return this.underway.lifecycle.produce(
      this.queue,
      (trace) => this.insertOne(db, columns, trace),
      (id) => [id],
    );
  }

  private async insertOne(
    db: Queryable,
    columns: EnqueueColumns,
    trace: TraceCarrier | null,
  ): Promise<string> {
    const { sql } = this.underway;
    const uniqueKey = columns.uniqueKey[0] ?? null;
    // A conflicting task may finish between the insert and the look-up; then
    // the key is free again and the insert is retried.
    for (let tries = 0; tries < 3; tries += 1) {
      const id = await orThrow(tasksEnqueueOne(sql, db, this.queue, columns, trace)());
      if (id !== undefined) this.underway.throughput.count(this.queue, "enqueued");
      if (id !== undefined) return id;
      if (uniqueKey === null) break;
      const existing = await orThrow(tasksFindUnique(sql, db, this.queue, [uniqueKey])());
      if (existing[0] !== undefined) return existing[0].id;
    }
    throw new UnderwayError(`enqueue on queue ${this.queue} returned no id`);
  }

  /** Enqueues after a delay. Same as `enqueue(input, { delayMs })`. */
  enqueueAfter(input: In, delayMs: number, options?: EnqueueOptions): Promise<string> {
    return this.enqueue(input, { ...options, delayMs });
  }

  /**
   * Validates every input first (one bad input rejects the whole batch,
   * naming its index, and nothing is written), then inserts them in chunks of
   * one statement each, inside one transaction. Ids come back in input order.
   */
  async enqueueMany(inputs: ReadonlyArray<In>, options?: EnqueueOptions): Promise<string[]> {
    if (!Array.isArray(inputs))
      throw new ValidationError(`enqueueMany on queue ${this.queue}`, {
        _tag: "DecodeError",
        paths: ["(root)"],
        message: `expected an array of inputs, got ${typeof inputs}`,
      });
    const valid = inputs.map((input, index) => this.check(input, index));
    if (valid.length === 0) return [];
    await this.underway.register(this.definition);
    return this.underway.lifecycle.produce(
      this.queue,
      (trace) => this.insertManyOnce(valid, options, trace),
      (ids) => ids,
    );
  }

  /** All of `enqueueMany` or nothing: in the caller's transaction, or in one of its own. */
  private async insertManyOnce(
    valid: ReadonlyArray<CheckedInput<V>>,
    options: EnqueueOptions | undefined,
    trace: TraceCarrier | null,
  ): Promise<string[]> {
    if (options?.client !== undefined) return this.insertMany(options.client, valid, options, trace);
    const client = await this.underway.pool.connect();
    try {
      await client.query("begin");
      const ids = await this.insertMany(client, valid, options, trace);
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
    inputs: ReadonlyArray<CheckedInput<V>>,
    options: EnqueueOptions | undefined,
    trace: TraceCarrier | null,
  ): Promise<string[]> {
    const ids: string[] = [];
    const { sql } = this.underway;
    // Without per-input overrides every row shares its options: resolve them
    // once and send only the inputs as an array.
    const uniform = this.definition.optionsFor === undefined && inputs[0] !== undefined;
    const shared = uniform ? this.columnsOf(inputs.slice(0, 1), options) : undefined;
    for (let start = 0; start < inputs.length; start += enqueueChunk) {
      const chunk = inputs.slice(start, start + enqueueChunk);
      const [rows, uniqueKeys] =
        shared === undefined
          ? await this.insertChunk(db, this.columnsOf(chunk, options), trace)
          : [
              await orThrow(
                tasksEnqueueUniform(
                  sql,
                  db,
                  this.queue,
                  chunk.map((input) => input.json),
                  shared,
                  trace,
                )(),
              ),
              chunk.map(() => shared.uniqueKey[0] ?? null),
            ];
      ids.push(...(await this.idsInOrder(db, rows, uniqueKeys)));
      this.underway.throughput.count(this.queue, "enqueued", rows.length);
    }
    return ids;
  }

  private async insertChunk(db: Queryable, columns: EnqueueColumns, trace: TraceCarrier | null) {
    const rows = await orThrow(tasksEnqueue(this.underway.sql, db, this.queue, columns, trace)());
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
    const existing = await orThrow(tasksFindUnique(this.underway.sql, db, this.queue, taken)());
    const byKey = new Map([...existing, ...rows].map((row) => [row.unique_key, row.id]));
    let next = 0;
    const unkeyed = rows.filter((row) => row.unique_key === null);
    return uniqueKeys.map((key) => {
      const id = key === null ? unkeyed[next++]?.id : byKey.get(key);
      if (id === undefined) throw new UnderwayError(`enqueueMany on queue ${this.queue} lost track of an id`);
      return id;
    });
  }

  private readonly decodeOutput = (value: unknown): E.Either<unknown, O> =>
    this.definition.output.load(value);

  /**
   * Outcomes of this queue's tasks, from every process (LISTEN/NOTIFY),
   * with outputs decoded by the definition's output schema. Hot: it reports
   * what happens while subscribed; it completes when the client closes.
   */
  get outcomes$(): Observable<Outcome<O>> {
    const name = this.queue;
    const { log } = this.underway;
    return this.underway.outcomeFeed.sources$.pipe(
      filter((source) => source.queue === name || source.dlqFrom === name),
      map((source) => toOutcome(source, this.decodeOutput)),
      filter((outcome): outcome is Outcome<O> => outcome !== undefined && outcome.queue === name),
      // Each subscriber drains its own buffer between event-loop turns: a
      // slow one delays only itself and loses nothing.
      yieldingBuffer({
        onBacklog: (size) =>
          log.warn("an outcomes$ subscriber is falling behind; its outcomes are buffered", {
            queue: name,
            size,
          }),
      }),
    );
  }

  /** @internal Outcomes of one task or one job run (by id), from the client's shared waiter map. */
  outcomesOf$(key: string): Observable<Outcome<O>> {
    return this.underway.outcomeFeed.for$(key).pipe(
      filter((source) => this.owns(source)),
      map((source) => toOutcome(source, this.decodeOutput)),
      filter((outcome): outcome is Outcome<O> => outcome !== undefined),
    );
  }

  /**
   * The final outcome of a task, also when it finished before the call.
   * Listens for it, and reads the row as a fallback for lost notifications.
   */
  outcome(taskId: string, options: { readonly pollIntervalMs?: number } = {}): Promise<FinalOutcome<O>> {
    checkTaskId(taskId);
    return firstFinal(
      this.underway,
      this.outcomesOf$(taskId).pipe(filter((outcome) => outcome.taskId === taskId)),
      async () => {
        const row = await readRow(this.underway, taskId);
        if (row === "retry") return undefined;
        if (row === undefined || !this.owns(row))
          throw new UnderwayError(`no task with id ${taskId} in queue ${this.queue}`);
        return toOutcome(row, this.decodeOutput);
      },
      options.pollIntervalMs,
    );
  }

  /** @internal A row of this queue, or of its DLQ that came from this queue. */
  owns(row: { readonly queue: string; readonly dlqFrom?: string | null }): boolean {
    return row.queue === this.queue || row.dlqFrom === this.queue;
  }

  /** The task's output once it succeeds; rejects with `TaskFailedError` if it fails or is cancelled. */
  result(taskId: string): Promise<O> {
    checkTaskId(taskId);
    return this.resultOf(taskId);
  }

  private async resultOf(taskId: string): Promise<O> {
    const outcome = await this.outcome(taskId);
    if (outcome._tag === "succeeded") return outcome.output;
    throw new TaskFailedError(taskId, outcome._tag, outcome._tag === "failed" ? outcome.error : null);
  }

  /**
   * Cancels a task: pending, it becomes cancelled at once; running, its
   * handler's signal fires in whichever process runs it. Resolves true if it
   * was pending or running.
   */
  cancel(taskId: string): Promise<boolean> {
    checkTaskId(taskId);
    return this.cancelOf(taskId);
  }

  private async cancelOf(taskId: string): Promise<boolean> {
    const rows = await orThrow(
      tasksCancel(this.underway.sql, this.underway.pool, taskId, null, this.queue)(),
    );
    // A running task is counted when its worker reports it cancelled.
    this.underway.throughput.count(
      this.queue,
      "cancelled",
      rows.filter((row) => row.previous === "pending").length,
    );
    return rows.length > 0;
  }

  /** Every attempt of a task so far, oldest first. */
  attempts(taskId: string): Promise<ReadonlyArray<AttemptRow>> {
    checkTaskId(taskId);
    return this.attemptsOf(taskId);
  }

  private async attemptsOf(taskId: string): Promise<ReadonlyArray<AttemptRow>> {
    const row = await orThrow(tasksGet(this.underway.sql, this.underway.pool, taskId)());
    if (row === undefined || !this.owns(row))
      throw new UnderwayError(`no task with id ${taskId} in queue ${this.queue}`);
    return orThrow(taskAttemptsList(this.underway.sql, this.underway.pool, taskId)());
  }

  /**
   * Starts a worker running `handler` for this task type; `stop()` ends it
   * gracefully. Bad options, or a closed client, throw a `ConfigError` or
   * `UnderwayError` here, synchronously.
   *
   * @example
   * const worker = underway.job(welcomeEmail).start(
   *   async ({ email }, { signal, attempt }) => ({ sentAt: await send(email, { signal, attempt }) }),
   *   { concurrency: 16 },
   * );
   * // …
   * await worker.stop(); // in-flight tasks finish
   */
  start(handler: Handler<V, R>, options: WorkOptions = {}): Worker<O> {
    return this.startWith(handler, options, {});
  }

  /** @internal A worker whose tasks are decoded and continued differently (multi-step jobs). */
  startWith(handler: Handler<V, unknown>, given: WorkOptions, internals: JobInternals<V, O>): Worker<O> {
    const checked = checkWorkOptions(given);
    this.underway.assertOpen();
    const deps = this.depsOf(handler, internals);
    let options = given;
    if (deps.transactional !== undefined) {
      const { pool } = this.underway;
      const concurrency = transactionalConcurrency(pool, given.concurrency, checked.concurrency);
      checkPoolSize(pool, concurrency, `the worker of queue ${this.queue}`);
      options = { ...given, concurrency };
    }
    this.registerQuietly();
    let stop: () => Promise<void> = async () => undefined;
    const outcomes$ = new Observable<Outcome<O>>((subscriber) => {
      const run = new WorkerRun<V, O>(deps, options, (outcome) => {
        this.underway.throughput.countOutcome(this.queue, outcome._tag);
        subscriber.next(outcome);
      });
      const untrack = this.underway.track(run);
      const unregister = this.underway.workerRegistry.add(
        this.queue,
        options.concurrency ?? checked.concurrency,
      );
      run.start();
      const { listener, sql } = this.underway;
      const broadcast = listener
        .channel$(`${sql.schema}.shutdown`)
        .pipe(filter((name) => name === this.queue))
        .subscribe(() => void stop());
      stop = () =>
        run.stop().finally(() => {
          broadcast.unsubscribe();
          unregister();
          untrack();
          subscriber.complete();
        });
      return () => void stop();
    }).pipe(share());
    const keepAlive = outcomes$.subscribe();
    return {
      outcomes$,
      stop: async () => {
        await stop();
        keepAlive.unsubscribe();
      },
    };
  }

  /** What executing this job's tasks needs, for a worker or a run in the calling process. */
  private depsOf(handler: Handler<V, unknown>, internals: JobInternals<V, O>) {
    const output = this.definition.output;
    const input = this.definition.input;
    const transactional = internals.transactional ?? (isTransactional(handler) ? () => true : undefined);
    return {
      sql: this.underway.sql,
      pool: this.underway.pool,
      queue: this.queue,
      dlq: this.definition.dlq,
      decodeInput: internals.decodeTaskInput ?? ((value: unknown) => input.load(value)),
      continuation: internals.continuation,
      encodeOutput:
        internals.encodeOutput ??
        ((returned: unknown) => {
          const checked = output.check(returned as R);
          if (E.isLeft(checked)) throw new ValidationError(`output of queue ${this.queue}`, checked.left);
          return checked.right;
        }),
      handler,
      log: this.underway.log,
      listener: this.underway.listener,
      events: this.underway.lifecycle,
      requestReaping: this.underway.requestReaping,
      ...(transactional === undefined ? {} : { transactional }),
    };
  }

  /** Records the queue for redrive and inspection; tasks run whether or not that works. */
  private registerQuietly(): void {
    void this.underway.register(this.definition).catch((error: unknown) =>
      this.underway.log.warn("could not register the queue; tasks still run", {
        queue: this.queue,
        error: messageOf(error),
      }),
    );
  }

  /**
   * Claims at most one due task and runs `handler` on it here, in the
   * calling process, without a long-lived worker: for tests, scripts and
   * cron-style jobs. The task gets what a worker gives it (lease renewals,
   * timeout, cancellation, the attempt-fenced write of its verdict, in its
   * own transaction for a {@link transactional} handler) and outcome streams
   * hear of it. Resolves with the outcome written (`cancelled` if it was
   * cancelled while running), or `undefined` when no task was due (or,
   * rarely, when its lease was lost and its result not written).
   *
   * @example
   * const outcome = await underway.job(welcomeEmail).runOnce(sendWelcome);
   * if (outcome === undefined) console.log("nothing to do");
   */
  async runOnce(handler: Handler<V, R>, options: RunOnceOptions = {}): Promise<Outcome<O> | undefined> {
    return this.runOnceWith(handler, options, {});
  }

  /** @internal `runOnce` with a multi-step job's internals. */
  async runOnceWith(
    handler: Handler<V, unknown>,
    options: RunOnceOptions,
    internals: JobInternals<V, O>,
  ): Promise<Outcome<O> | undefined> {
    const one = await this.runHere(handler, internals, 1, options.signal, (deps, control) =>
      runOne(deps, { ...options, ...control }),
    );
    return one.claimed ? one.outcome : undefined;
  }

  /**
   * Runs due tasks here until none is due (`until: "empty"`), then resolves
   * with how their attempts ended. Expired leases are returned to pending
   * first, so it also picks up what a crashed worker left; retries due
   * later are not waited for. `concurrency` tasks run at once (default 1).
   *
   * @example
   * // a cron job: work off the backlog, then exit
   * const { succeeded, failed } = await underway.job(report).drain(buildReport, { until: "empty" });
   */
  async drain(handler: Handler<V, R>, options: DrainOptions = {}): Promise<DrainResult> {
    return this.drainWith(handler, options, {});
  }

  /** @internal `drain` with a multi-step job's internals. */
  async drainWith(
    handler: Handler<V, unknown>,
    options: DrainOptions,
    internals: JobInternals<V, O>,
  ): Promise<DrainResult> {
    if (options.until !== undefined && options.until !== "empty")
      throw new ConfigError(`drain: until must be "empty", got ${JSON.stringify(options.until)}`);
    const { concurrency } = checkWorkOptions({ concurrency: options.concurrency ?? 1 });
    return this.runHere(handler, internals, concurrency, options.signal, (deps, control) =>
      drain(deps, { ...options, ...control, concurrency }),
    );
  }

  /**
   * Runs `run` in this process as a worker would. `close()` stops it as it
   * stops a worker: no new claims at once, running handlers get the grace
   * period (30 s), then their signal fires.
   */
  private async runHere<A>(
    handler: Handler<V, unknown>,
    internals: JobInternals<V, O>,
    concurrency: number,
    signal: AbortSignal | undefined,
    run: (
      deps: RunOnceDeps<V, O>,
      control: { readonly signal: AbortSignal; readonly stopClaiming: AbortSignal },
    ) => Promise<A>,
  ): Promise<A> {
    this.underway.assertOpen();
    const deps = { ...this.depsOf(handler, internals), workerId: `${hostname()}:${process.pid}:once` };
    if (deps.transactional !== undefined)
      checkPoolSize(this.underway.pool, concurrency, `runOnce/drain on queue ${this.queue}`);
    this.registerQuietly();
    const stopClaiming = new AbortController();
    const abort = new AbortController();
    const running = run(deps, {
      signal: signal === undefined ? abort.signal : AbortSignal.any([signal, abort.signal]),
      stopClaiming: stopClaiming.signal,
    });
    const untrack = this.underway.track({
      stop: async () => {
        stopClaiming.abort();
        const grace = setTimeout(() => abort.abort(), runHereGraceMs);
        await running.then(
          () => undefined,
          () => undefined,
        );
        clearTimeout(grace);
      },
    });
    try {
      return await running;
    } finally {
      untrack();
    }
  }

  /**
   * A worker as an Observable of its outcomes: subscribing runs it,
   * unsubscribing stops it gracefully (no new claims, in-flight tasks finish).
   * Options are checked here, synchronously.
   */
  work(handler: Handler<V, R>, options: WorkOptions = {}): Observable<Outcome<O>> {
    checkWorkOptions(options);
    this.underway.assertOpen();
    return new Observable<Outcome<O>>((subscriber) => {
      const worker = this.start(handler, options);
      const sub = worker.outcomes$.subscribe(subscriber);
      return () => {
        sub.unsubscribe();
        void worker.stop();
      };
    });
  }
}
