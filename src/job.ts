import type { Observable } from "rxjs";
import { checkOptionShape } from "./optionShape.ts";
import { outcomeOptionShape } from "./notify/firstFinal.ts";
import type { JobDefinition } from "./definition.ts";
import { UnderwayError, orThrow } from "./errors.ts";
import { cancelTask } from "./cancel.ts";
import { checkInput, type CheckedInput } from "./enqueue/checkInput.ts";
import { enqueueBatch, type EnqueueBatchOptions, type EnqueuedBatch } from "./batches/enqueueBatch.ts";
import { enqueueMany } from "./enqueue/enqueueMany.ts";
import { enqueueOne } from "./enqueue/enqueueOne.ts";
import type { EnqueueOptions } from "./enqueue/enqueueOptions.ts";
import type { EnqueueResult } from "./enqueue/enqueueResult.ts";
import { taskColumns, type RunPlace } from "./enqueue/taskColumns.ts";
import { checkTaskId } from "./identifier.ts";
import { TaskOutcomes } from "./notify/taskOutcomes.ts";
import { queueProgress$, type TaskProgress } from "./notify/taskProgress.ts";
import type { FinalOutcome, Outcome } from "./outcomes.ts";
import type { EnqueueColumns } from "./db/enqueueColumns.ts";
import type { AttemptRow } from "./db/historyQueries.ts";
import { drainHere, runOnceHere } from "./run/runHere.ts";
import { startWorker, workerOutcomes$, type Worker } from "./run/startWorker.ts";
import { checkBatchHandler, startBatchWorker } from "./run/startBatchWorker.ts";
import type { BatchWorkOptions } from "./worker/batchOptions.ts";
import type { BatchHandler } from "./worker/batchResult.ts";
import { handlerRunner } from "./run/taskRunner.ts";
import type { JobDeps } from "./client/clientDeps.ts";
import type { Underway } from "./underway.ts";
import type { Handler } from "./worker/execute.ts";
import type { DrainOptions, DrainResult, RunOnceOptions } from "./worker/runOnce.ts";
import type { WorkOptions } from "./worker/worker.ts";

// The types Job's methods take and give, exported with it (src/index.ts takes them from here).
export type { EnqueueOptions } from "./enqueue/enqueueOptions.ts";
export type { EnqueueResult, EnqueueStatus } from "./enqueue/enqueueResult.ts";
export type { Worker } from "./run/startWorker.ts";
export type { EnqueueBatchOptions, EnqueuedBatch } from "./batches/enqueueBatch.ts";
export type { TaskProgress } from "./notify/taskProgress.ts";

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
  private readonly outcomes: TaskOutcomes<O>;

  /** @internal Use `underway.job(definition)`. */
  constructor(
    /** The client this handle uses. */
    readonly underway: Underway,
    /** What this handle's enqueues, outcomes, cancels and workers need of the client. */
    private readonly deps: JobDeps,
    /** The task type. */
    readonly definition: JobDefinition<In, V, R, O>,
  ) {
    this.outcomes = new TaskOutcomes(deps, definition.queue, (value) => definition.output.load(value));
  }

  /** The queue's name. */
  get queue(): string {
    return this.definition.queue;
  }

  /** @internal Validates an input against the definition's schema (and jsonb), or throws `ValidationError`. */
  check(input: In, index?: number): CheckedInput<V> {
    return checkInput(this.definition, input, index);
  }

  /** @internal Task rows for inputs that passed validation (schedules enqueue through this). */
  columnsOf(
    inputs: ReadonlyArray<CheckedInput<V>>,
    enqueue: EnqueueOptions | undefined,
    place?: RunPlace,
  ): EnqueueColumns {
    return taskColumns(this.definition, inputs, enqueue, place);
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
    return (await enqueueOne(this.deps, this.definition, input, options)).id;
  }

  /**
   * `enqueue`, telling what happened: `created` (a new task), `existing` (a
   * live task holds the `uniqueKey`), `throttled` (the key's `uniqueForMs`
   * window is open) or `debounced` (the key's pending task took this input
   * and was pushed back by `debounceMs`), with the task's id.
   *
   * @example
   * const { id, status } = await search.enqueueResult({ query: "ferris" }, { uniqueKey: "user:42", debounceMs: 500 });
   */
  async enqueueResult(input: In, options?: EnqueueOptions): Promise<EnqueueResult> {
    return enqueueOne(this.deps, this.definition, input, options);
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
    return (await enqueueMany(this.deps, this.definition, inputs, options)).map((result) => result.id);
  }

  /** `enqueueMany`, telling for each input what happened (see `enqueueResult`), in input order. */
  async enqueueManyResults(inputs: ReadonlyArray<In>, options?: EnqueueOptions): Promise<EnqueueResult[]> {
    return enqueueMany(this.deps, this.definition, inputs, options);
  }

  /**
   * Enqueues `inputs` as one batch, all or nothing (in your transaction
   * with `client`), and, with `onComplete`, one task of that definition once
   * every member has ended (succeeded, failed for good, dead-lettered or
   * cancelled), enqueued in the transaction that ends the last one, exactly
   * once. Its input is the batch's completion: counts, the first 1,000
   * failed ids and your `context` (give the callback `input: BatchCompletion`).
   * An empty batch completes at once. Follow it with `ops.batch(batchId)`.
   *
   * @example
   * const report = defineJob({ queue: "campaign-report", input: BatchCompletion });
   * const { batchId } = await underway.job(sendEmail).enqueueBatch(recipients, {
   *   onComplete: report,
   *   context: { campaignId: "spring" },
   * });
   */
  async enqueueBatch<CIn, CV, CR, CO>(
    inputs: ReadonlyArray<In>,
    options?: EnqueueBatchOptions<CIn, CV, CR, CO>,
  ): Promise<EnqueuedBatch> {
    return enqueueBatch(this.deps, this.definition, inputs, options);
  }

  /**
   * Outcomes of this queue's tasks, from every process (LISTEN/NOTIFY),
   * with outputs decoded by the definition's output schema. Hot: it reports
   * what happens while subscribed; it completes when the client closes.
   */
  get outcomes$(): Observable<Outcome<O>> {
    return this.outcomes.all$;
  }

  /**
   * Progress of this queue's tasks (`ctx.progress`), from every process
   * (LISTEN/NOTIFY, like `outcomes$`). Hot: it reports what happens while
   * subscribed; the latest stored value of a task is `ops.task(id)`'s
   * `progress`. Completes when the client closes.
   *
   * @example
   * emails.progress$.pipe(filter((p) => p.taskId === id)).subscribe((p) => console.log(p.value));
   */
  get progress$(): Observable<TaskProgress> {
    return queueProgress$(this.deps, this.definition.queue);
  }

  /**
   * The final outcome of a task, also when it finished before the call.
   * Listens for it, and reads the row as a fallback for lost notifications.
   */
  outcome(taskId: string, options: { readonly pollIntervalMs?: number } = {}): Promise<FinalOutcome<O>> {
    checkTaskId(taskId);
    checkOptionShape("outcome options", options, outcomeOptionShape);
    return this.outcomes.final(taskId, options.pollIntervalMs);
  }

  /** The task's output once it succeeds; rejects with `TaskFailedError` if it fails or is cancelled. */
  result(taskId: string): Promise<O> {
    checkTaskId(taskId);
    return this.outcomes.result(taskId);
  }

  /**
   * Cancels a task: pending, it becomes cancelled at once; running, its
   * handler's signal fires in whichever process runs it. Resolves true if it
   * was pending or running.
   */
  cancel(taskId: string): Promise<boolean> {
    checkTaskId(taskId);
    return cancelTask(this.deps, this.queue, taskId);
  }

  /** Every attempt of a task so far, oldest first. */
  attempts(taskId: string): Promise<ReadonlyArray<AttemptRow>> {
    checkTaskId(taskId);
    return this.attemptsOf(taskId);
  }

  private async attemptsOf(taskId: string): Promise<ReadonlyArray<AttemptRow>> {
    const row = await orThrow(this.deps.store.tasksGet(this.deps.pool, { id: taskId })());
    if (row === undefined || !this.outcomes.owns(row))
      throw new UnderwayError(`no task with id ${taskId} in queue ${this.queue}`);
    return orThrow(this.deps.store.taskAttemptsList(this.deps.pool, { id: taskId })());
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
    return startWorker(this.deps, this.definition, handlerRunner(this.definition, handler), options);
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
    return runOnceHere(this.deps, this.definition, handlerRunner(this.definition, handler), options);
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
    return drainHere(this.deps, this.definition, handlerRunner(this.definition, handler), options);
  }

  /**
   * A worker as an Observable of its outcomes: subscribing runs it,
   * unsubscribing stops it gracefully (no new claims, in-flight tasks finish).
   * Options are checked here, synchronously.
   */
  work(handler: Handler<V, R>, options: WorkOptions = {}): Observable<Outcome<O>> {
    return workerOutcomes$(this.deps, options, () => this.start(handler, options));
  }

  /**
   * Starts a worker whose handler gets many tasks at once, for bulk API
   * calls and bulk inserts: up to `batchSize` (default 100) per call,
   * gathered for at most `batchWaitMs` (default 50 ms) after the first.
   * Each task is `{ input, context }` with its own `taskId`, `attempt` and
   * `signal`; the handler returns one `BatchResult` per task (an array in
   * the same order, or a Map by `taskId`), so one bad task fails alone and
   * is retried (or dead-lettered) by its own policy. Throwing fails every
   * task of the batch. `concurrency` counts batch calls (default 1).
   * Outcomes, events, metrics, leases, cancels and shutdown are a worker's,
   * task by task (docs/workflows.md#batch-handlers).
   *
   * @example
   * const worker = underway.job(welcomeEmail).startBatch(
   *   async (tasks) => {
   *     const sent = await mailer.sendMany(tasks.map(({ input }) => input.email));
   *     return sent.map((ok) => (ok ? BatchResult.ok({ sentAt: new Date() }) : BatchResult.fail(new Error("bounced"))));
   *   },
   *   { batchSize: 100, batchWaitMs: 50 },
   * );
   */
  startBatch(handler: BatchHandler<V, R>, options: BatchWorkOptions = {}): Worker<O> {
    return startBatchWorker(this.deps, this.definition, handler, options);
  }

  /**
   * `startBatch` as an Observable of outcomes: subscribing runs the
   * worker, unsubscribing stops it gracefully. The handler and options are
   * checked here, synchronously.
   */
  workBatch(handler: BatchHandler<V, R>, options: BatchWorkOptions = {}): Observable<Outcome<O>> {
    const { work } = checkBatchHandler(this.queue, handler, options);
    return workerOutcomes$(this.deps, work, () => this.startBatch(handler, options));
  }
}
