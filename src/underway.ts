import type pg from "pg";
import { checkOptionShape } from "./optionShape.ts";
import { AsyncSubject, mergeMap, throwError, type Observable } from "rxjs";
import { bindDeps, type ClientDeps } from "./client/clientDeps.ts";
import { connect } from "./client/connect.ts";
import { QueueBindings } from "./client/queueBindings.ts";
import { QueueRegistry } from "./client/queueRegistry.ts";
import { SignalHandlers } from "./client/signalHandlers.ts";
import type { UnderwayOptions } from "./client/underwayOptions.ts";
import type { JobDefinition, StepJobDefinition, TaskDefinition } from "./definition.ts";
import { ClosedError, UnderwayError, messageOf, orThrow } from "./errors.ts";
import { guarded } from "./guarded.ts";
import type { TaskEvent } from "./events/taskEvent.ts";
import { TaskEvents } from "./events/taskEvents.ts";
import { checkQueueName } from "./identifier.ts";
import { Job } from "./job.ts";
import type { Logger } from "./log.ts";
import { Reaper } from "./maintenance/reaper.ts";
import type { Listener } from "./notify/listener.ts";
import { OutcomeFeed } from "./notify/outcomeFeed.ts";
import { Ops } from "./ops/ops.ts";
import { ThroughputCounters } from "./ops/throughputCounters.ts";
import { WorkerRegistry } from "./ops/workerRegistry.ts";
import type { Store } from "./db/store.ts";
import { setPaused } from "./ops/setPaused.ts";
import { StepJob } from "./steps/stepJob.ts";

// The options connect takes, exported with the client (src/index.ts takes them from here).
export type { UnderwayOptions } from "./client/underwayOptions.ts";

/** Anything that stops when asked (workers, schedulers, retention loops). */
export interface Stoppable {
  /** Stops gracefully; resolves once stopped. */
  stop(): Promise<void>;
}

/**
 * The client: owns the pool (or borrows yours), the process's one LISTEN
 * connection, and every worker started through it. No module-level state:
 * two clients in one process are independent.
 *
 * @example
 * const underway = await Underway.connect({ connectionString: process.env.DATABASE_URL });
 * const emails = underway.job(welcomeEmail);
 */
export class Underway {
  private readonly running = new Set<Stoppable>();
  private closing: Promise<void> | undefined;
  /** Emits (and completes) once what was running has stopped: from then on the client is closed. */
  private readonly ended = new AsyncSubject<void>();
  private isClosed = false;

  /** What this client's parts need, built once here and handed to each (docs/design/explicit-deps.md). */
  private readonly deps: ClientDeps;

  /** The queues this client recorded in the database. */
  private readonly queues: QueueRegistry;

  /** The definition each queue is bound to on this client: a second, different one is refused. */
  private readonly bindings = new QueueBindings();

  /** The handlers `stopOnSignals` installed. */
  private readonly signals: SignalHandlers;

  private constructor(
    private readonly ownPool: pg.Pool,
    store: Store,
    schema: string,
    listener: Listener,
    /** Where this client logs: the `logger` option, or the console. */
    readonly log: Logger,
    private readonly ownsPool: boolean,
  ) {
    const throughput = new ThroughputCounters(store, ownPool, log);
    // Every attempt's end is counted where it is reported, whether a worker,
    // runOnce or drain ran it, and whatever step of a job it was.
    const lifecycle = new TaskEvents(log, (queue, tag) => throughput.countOutcome(queue, tag));
    // The lease reaper: one sweep per client, however many workers run.
    const reaper = new Reaper({ store, pool: () => ownPool, log, events: lifecycle });
    const pool = (): pg.Pool => this.pool;
    this.queues = new QueueRegistry(store, pool, log);
    this.deps = {
      store,
      schema,
      get pool() {
        return pool();
      },
      log,
      listener,
      lifecycle,
      throughput,
      workerRegistry: new WorkerRegistry(store, ownPool, log),
      outcomeFeed: new OutcomeFeed(store, schema, ownPool, listener, log),
      closed$: this.ended.pipe(mergeMap(() => throwError(() => new ClosedError()))),
      // Not assertOpen(): handlers finishing during close() may still enqueue.
      register: (definition) => this.queues.register(definition),
      requestReaping: (intervalMs, scheduler) => reaper.request(intervalMs, scheduler),
      assertOpen: () => this.assertOpen(),
      track: (running) => this.track(running),
      listening: () => this.listening(),
    };
    bindDeps(this, this.deps);
    this.signals = new SignalHandlers(() => this.close(), log);
  }

  /**
   * Lifecycle events of this process's producers and workers: enqueued,
   * claimed, started, succeeded, retrying, failed, deadLettered,
   * cancelled, leaseLost, leasesExpired, redriven (see {@link TaskEvent}).
   * Hot and local: what this client does while subscribed, delivered
   * asynchronously (a slow subscriber never holds up a worker; nothing is
   * dropped). With no subscriber, emitting costs nothing. Completes when
   * the client closes. A subscriber's callback that throws (`next`,
   * `error`, `complete`, also after rxjs operators) is logged at error
   * level and ignored: delivery goes on, to it and to the others, and
   * workers and `close()` are unaffected.
   *
   * @example
   * underway.events$.pipe(filter((event) => event._tag === "leaseLost")).subscribe((event) =>
   *   console.warn("lease lost", event.queue, event.taskId, event.attempt),
   * );
   */
  get events$(): Observable<TaskEvent> {
    return guarded(this.deps.lifecycle.events$, this.log, "events$");
  }

  /**
   * The inspection and admin API: lists, counts, throughput, one task in
   * full, bulk retry/cancel/delete/redrive, pause, schedules and workers.
   *
   * @example
   * for (const queue of await underway.ops.queues()) console.log(queue.queue, queue.counts.pending.count);
   */
  get ops(): Ops {
    return new Ops(this.deps);
  }

  /**
   * The pool underway queries through. After `close()` it throws a
   * `ClosedError`, so every call made through a closed client fails with
   * that rather than with pg's "Cannot use a pool after calling end".
   */
  get pool(): pg.Pool {
    if (this.isClosed) throw new ClosedError();
    return this.ownPool;
  }

  /**
   * Connects (and, unless `migrate: false`, applies migrations). Rejects with
   * a `ConfigError` for bad options and a `DatabaseError` (its `cause` the pg
   * error, its message free of the password) when the database cannot be used.
   *
   * @example
   * const underway = await Underway.connect({ connectionString: process.env.DATABASE_URL });
   * // or with your own pool, and migrations applied by your deploy step:
   * const shared = await Underway.connect({ pool, migrate: false, schema: "jobs" });
   * // …
   * await underway.close();
   */
  static async connect(options: UnderwayOptions): Promise<Underway> {
    const { pool, store, schema, listener, log, ownsPool } = await connect(options);
    return new Underway(pool, store, schema, listener, log, ownsPool);
  }

  /**
   * The task type of `definition` on this client: enqueue and follow
   * outcomes anywhere; attach a handler (or steps) in worker processes.
   * Throws a `ConfigError` when another definition of the same queue, with
   * a different kind, input or output schema, or dead-letter queue, was
   * bound on this client: the workers of each would take the other's tasks
   * and fail them. The same definition may be bound any number of times.
   *
   * @example
   * const emails = underway.job(welcomeEmail);
   * await emails.enqueue({ userId: 42, email: "ferris@example.com", name: "Ferris" });
   */
  job<In, V, R, O>(definition: StepJobDefinition<In, V, R, O>): StepJob<In, V, R, O>;
  job<In, V, R, O>(definition: TaskDefinition<In, V, R, O>): Job<In, V, R, O>;
  job<In, V, R, O>(definition: JobDefinition<In, V, R, O>): Job<In, V, R, O> | StepJob<In, V, R, O> {
    this.bindings.bind(definition as JobDefinition<unknown, unknown, unknown, unknown>);
    return definition.kind === "steps"
      ? new StepJob(this, this.deps, definition as StepJobDefinition<In, V, R, O>)
      : new Job(this, this.deps, definition);
  }

  /**
   * Records a definition's queue and its dead-letter queue in the database
   * now, before the first enqueue or worker: the dashboard, the CLI and
   * `ops` list a queue as soon as it is deployed. Idempotent. Binds the
   * definition to this client like {@link Underway.job} (a `ConfigError`
   * if another definition of the queue differs).
   *
   * @example
   * // at deploy or startup
   * await underway.declare(welcomeEmail);
   */
  async declare<In, V, R, O>(definition: JobDefinition<In, V, R, O>): Promise<void> {
    this.assertOpen();
    this.bindings.bind(definition as JobDefinition<unknown, unknown, unknown, unknown>);
    await this.queues.register(definition);
  }

  /**
   * Throws `ClosedError` once `close()` was called: for calls that start
   * something, checked synchronously before any subscription.
   */
  private assertOpen(): void {
    if (this.closing !== undefined) throw new ClosedError();
  }

  /** Workers, schedulers and retention loops register here so `close()` stops them. */
  private track(worker: Stoppable): () => void {
    this.assertOpen();
    this.running.add(worker);
    return () => this.running.delete(worker);
  }

  /**
   * Resolves once the LISTEN of every stream subscribed so far is active:
   * subscribe to `outcomes$`, await this, and nothing that happens after is
   * missed.
   */
  async listening(): Promise<void> {
    await Promise.all([this.deps.listener.readyAll(), this.deps.outcomeFeed.ready()]);
  }

  /**
   * Pauses a queue in every process, persistently: no worker claims its
   * tasks (running ones finish) until `resumeQueue`, across restarts.
   * Enqueues, schedules and outcome streams go on. Idempotent: pausing a
   * paused queue keeps its first pause time.
   *
   * @example
   * await underway.pauseQueue("email"); // the mail provider is down
   * await underway.resumeQueue("email"); // workers everywhere wake at once
   */
  pauseQueue(queue: string): Promise<void> {
    return setPaused(this.deps, queue, true);
  }

  /** Resumes a paused queue: its workers in every process wake and claim at once (NOTIFY). */
  resumeQueue(queue: string): Promise<void> {
    return setPaused(this.deps, queue, false);
  }

  /** When the queue was paused, or `null` when it is not. */
  async queuePausedAt(queue: string): Promise<Date | null> {
    checkQueueName(queue);
    return orThrow(this.deps.store.queuesGetPaused(this.pool, { queue })());
  }

  /**
   * Stops the workers and schedulers of a queue in every process (NOTIFY on
   * `<schema>.shutdown`): each stops claiming and finishes its in-flight
   * tasks. A process whose LISTEN connection is down at that moment misses it.
   */
  async shutdownQueue(queue: string): Promise<void> {
    await this.pool.query("select pg_notify($1, $2)", [`${this.deps.schema}.shutdown`, queue]);
  }

  /**
   * Opt-in: on SIGTERM or SIGINT, close gracefully (workers finish in-flight
   * tasks within their grace period), then exit 0. A second signal exits at
   * once with status 1. Returns a function that removes the handlers.
   */
  stopOnSignals(
    options: { readonly signals?: ReadonlyArray<NodeJS.Signals>; readonly exit?: boolean } = {},
  ): () => void {
    this.assertOpen();
    checkOptionShape("stopOnSignals options", options, { signals: "string[]", exit: "boolean" });
    return this.signals.install(options);
  }

  /**
   * Ends everything this client started, so a process whose only work was
   * underway exits by itself: first workers (they finish in-flight tasks,
   * whose handlers may still enqueue), schedulers and retention loops; then
   * outcome streams complete, waiting `outcome()`/`result()` calls reject
   * with `ClosedError`, the outcome registration is deleted, the LISTEN
   * connection closes and an owned pool ends. Calls made after `close()`
   * reject with `ClosedError`. Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const stopped = await Promise.allSettled([...this.running].map((worker) => worker.stop()));
    this.isClosed = true;
    const { lifecycle, throughput, workerRegistry, outcomeFeed, listener } = this.deps;
    lifecycle.complete();
    this.ended.next();
    this.ended.complete();
    await Promise.all([throughput.close(), workerRegistry.close()]);
    await outcomeFeed.close();
    await listener.close();
    if (this.ownsPool) {
      await this.ownPool.end();
      // end() resolves before the sockets finish closing; a server going
      // away meanwhile is no news any more.
      this.ownPool.removeAllListeners("error");
      this.ownPool.on("error", () => undefined);
    }
    // Closed: signal handlers of stopOnSignals() have nothing left to stop.
    this.signals.remove();
    // A worker that failed to stop is reported once everything else is closed.
    const failed = stopped.find((result) => result.status === "rejected");
    if (failed !== undefined) {
      const reason: unknown = failed.reason;
      throw reason instanceof UnderwayError
        ? reason
        : new UnderwayError(`a worker failed to stop: ${messageOf(reason)}`, { cause: reason });
    }
  }
}
