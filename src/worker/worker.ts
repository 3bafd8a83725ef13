import { randomUUID } from "node:crypto";
import { ReplaySubject, asyncScheduler, type SchedulerLike, type Subscription } from "rxjs";
import { messageOf } from "../errors.ts";
import type { Outcome } from "../outcomes.ts";
import { Completions } from "./completions.ts";
import type { ExecuteDeps } from "./execute.ts";
import { work$, type WorkListener } from "./work.ts";
import { checkWorkOptions, type ResolvedWorkOptions, type WorkOptions } from "./workOptions.ts";

export { checkWorkOptions, type WorkOptions } from "./workOptions.ts";

export interface WorkerDeps<I, O> extends Omit<
  ExecuteDeps<I, O>,
  "completer" | "now" | "deadlines" | "admissions"
> {
  readonly listener: WorkListener;
  /** The client's lease reaper: one sweep per client, whatever runs. */
  readonly requestReaping: (intervalMs: number, scheduler: SchedulerLike) => () => void;
  /** Settles once the worker may claim (its definition's rate limit recorded); none: at once. */
  readonly prepared?: Promise<void>;
}

/**
 * One running worker of one queue: `start()` subscribes to its `work$`
 * pipeline (./work.ts), `stop()` asks it to stop gracefully and resolves
 * once it has completed (every result written, unstarted tasks given back).
 */
export class WorkerRun<I, O> {
  // The client's registry id (ops.workers() shows it): every task this
  // worker claims carries it, so a task's lease names a row of the Workers
  // page. Its NOTIFY registration needs a key of its own: two workers of one
  // queue in one client must not delete each other's.
  private readonly waiterId: string;
  private readonly settings: ResolvedWorkOptions;
  private readonly stopRequested = new ReplaySubject<void>(1);
  private subscription: Subscription | undefined;
  private readonly finished: Promise<void>;
  private markFinished: () => void = () => undefined;

  constructor(
    readonly workerId: string,
    private readonly deps: WorkerDeps<I, O>,
    options: WorkOptions,
    private readonly emit: (outcome: Outcome<O>) => void,
  ) {
    this.waiterId = `${workerId}:${randomUUID().slice(0, 8)}`;
    this.settings = checkWorkOptions(options);
    this.finished = new Promise((done) => (this.markFinished = done));
  }

  start(): void {
    if (this.subscription !== undefined) return;
    const scheduler = this.settings.scheduler ?? asyncScheduler;
    const { listener, requestReaping, prepared, ...execute } = this.deps;
    const now = () => scheduler.now();
    this.subscription = work$(
      {
        execute: { ...execute, completer: new Completions(execute.store, execute.pool), now },
        listener,
        settings: this.settings,
        scheduler,
        workerId: this.workerId,
        waiterId: this.waiterId,
        requestReaping,
        prepared: prepared ?? Promise.resolve(),
      },
      this.stopRequested,
    ).subscribe({
      next: (outcome) => this.emit(outcome),
      error: (error: unknown) => {
        this.deps.log.error("worker stopped on an error", {
          queue: this.deps.queue,
          error: messageOf(error),
        });
        this.markFinished();
      },
      complete: () => this.markFinished(),
    });
  }

  /**
   * Stops claiming, gives unstarted tasks back, lets in-flight tasks finish
   * for `shutdownGraceMs`, then fires their signals; resolves once every
   * result is written.
   */
  stop(): Promise<void> {
    if (this.subscription === undefined) this.markFinished();
    this.stopRequested.next();
    return this.finished;
  }
}
