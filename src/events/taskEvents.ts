import { Subject, type Observable } from "rxjs";
import { QueueFullError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Outcome } from "../outcomes.ts";
import type { ClaimedRow } from "../db/claimQueries.ts";
import type { RunningTask } from "../worker/execute.ts";
import { yieldingBuffer } from "../worker/yieldingBuffer.ts";
import type { AttemptEventBase, TaskEvent } from "./taskEvent.ts";

/** @internal W3C trace context as stored with a task (column `trace_context`). */
export interface TraceCarrier {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/** @internal What tracing (src/telemetry) plugs into the lifecycle. */
export interface LifecycleTracing {
  /** Runs an insert inside a producer span; `insert` stores the carrier it is given. */
  produce<A>(
    queue: string,
    insert: (carrier: TraceCarrier | null) => Promise<A>,
    idsOf: (result: A) => ReadonlyArray<string>,
  ): Promise<A>;
  /** An attempt starts: open its span. */
  start(queue: string, task: RunningTask): void;
  /** Runs the handler with the attempt's span active. */
  within<A>(task: RunningTask, run: () => A): A;
  /** The attempt ended (the event says how): close its span. */
  end(task: RunningTask, event: TaskEvent): void;
}

/** @internal A synchronous listener (metrics): called in the emitter's call, so it must be cheap. */
export type LifecycleSink = (event: TaskEvent) => void;

const attemptBase = (queue: string, row: ClaimedRow): AttemptEventBase => ({
  queue,
  at: new Date(),
  taskId: row.id,
  attempt: row.attempt,
  maxAttempts: row.maxAttempts,
  jobId: row.jobId,
  stepIndex: row.stepIndex,
});

/**
 * @internal The lifecycle of this client's tasks, as events: producers and
 * workers call in at the few places outcomes are decided; `events$`,
 * metrics and tracing listen. With nobody listening, each call is one
 * property check and returns: nothing is built or timed.
 */
export class TaskEvents {
  private readonly subject = new Subject<TaskEvent>();
  private readonly sinks = new Set<LifecycleSink>();
  private tracing: LifecycleTracing | undefined;
  /** When each attempt seen starting started (performance.now()); weak: a lost task leaks nothing. */
  private readonly startedAt = new WeakMap<RunningTask, number>();

  /** `countOutcome` hears of every attempt's written outcome, listened to or not (throughput counters). */
  constructor(
    private readonly log: Logger,
    private readonly countOutcome: (queue: string, tag: Outcome<unknown>["_tag"]) => void,
  ) {}

  /**
   * Delivered later, per subscriber, never inside the emitter's call (see
   * yieldingBuffer): a slow subscriber never holds up a worker.
   */
  readonly events$: Observable<TaskEvent> = this.subject.pipe(
    yieldingBuffer({
      immediate: false,
      onBacklog: (size) =>
        this.log.warn("an events$ subscriber is falling behind; its events are buffered", { size }),
    }),
  );

  /** Whether anyone listens; the emitters check it first. */
  get observed(): boolean {
    return this.sinks.size > 0 || this.tracing !== undefined || this.subject.observed;
  }

  /** Adds a synchronous listener; returns its removal. */
  addSink(sink: LifecycleSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  /** Plugs tracing in; returns its removal. One tracing per client. */
  setTracing(tracing: LifecycleTracing): () => void {
    this.tracing = tracing;
    return () => {
      if (this.tracing === tracing) this.tracing = undefined;
    };
  }

  private emit(event: TaskEvent): void {
    for (const sink of this.sinks) {
      try {
        sink(event);
      } catch (error) {
        this.log.warn("a lifecycle listener threw; ignored", { error: String(error) });
      }
    }
    this.subject.next(event);
  }

  /**
   * Inserts tasks through `insert` (in a producer span when tracing, whose
   * context `insert` stores with the tasks) and reports the ids `idsOf` finds.
   */
  async produce<A>(
    queue: string,
    insert: (carrier: TraceCarrier | null) => Promise<A>,
    idsOf: (result: A) => ReadonlyArray<string>,
  ): Promise<A> {
    let result: A;
    try {
      result =
        this.tracing === undefined ? await insert(null) : await this.tracing.produce(queue, insert, idsOf);
    } catch (error) {
      // A full queue is an answer operators count (an alert on producers
      // being turned away), unlike a broken connection.
      if (this.observed && error instanceof QueueFullError)
        this.emit({ _tag: "enqueueRejected", queue, at: new Date(), count: error.adding, cap: error.cap });
      throw error;
    }
    if (this.observed) {
      const ids = idsOf(result);
      if (ids.length > 0)
        this.emit({ _tag: "enqueued", queue, at: new Date(), count: ids.length, taskIds: ids });
    }
    return result;
  }

  /** A claim statement returned `count` tasks after `durationMs`. */
  claimed(queue: string, count: number, durationMs: number): void {
    if (!this.observed) return;
    this.emit({ _tag: "claimed", queue, at: new Date(), count, durationMs });
  }

  /** The reaper returned tasks whose lease had expired. */
  reaped(tasks: ReadonlyArray<{ readonly queue: string }>): void {
    if (tasks.length === 0 || !this.observed) return;
    const counts = new Map<string, number>();
    for (const { queue } of tasks) counts.set(queue, (counts.get(queue) ?? 0) + 1);
    const at = new Date();
    for (const [queue, count] of counts) this.emit({ _tag: "leasesExpired", queue, at, count });
  }

  /** Tasks left a dead-letter queue (a redrive). */
  redriven(dlq: string, count: number): void {
    if (count === 0 || !this.observed) return;
    this.emit({ _tag: "redriven", queue: dlq, at: new Date(), count });
  }

  /** An attempt starts running in this process. */
  started(queue: string, task: RunningTask): void {
    if (!this.observed) return;
    this.startedAt.set(task, performance.now());
    this.tracing?.start(queue, task);
    this.emit({ ...attemptBase(queue, task.row), _tag: "started", waitMs: task.row.waitMs });
  }

  /** Runs the handler: with the attempt's span active when tracing. */
  within<A>(task: RunningTask, run: () => A): A {
    return this.tracing === undefined ? run() : this.tracing.within(task, run);
  }

  /**
   * An attempt this process started has ended: `outcome` is what it wrote,
   * or undefined when it wrote nothing (cancelled, its lease lost, its
   * write fenced off or failed). Once per attempt seen starting.
   */
  ended<O>(queue: string, task: RunningTask, outcome: Outcome<O> | undefined): void {
    if (outcome !== undefined) this.countOutcome(queue, outcome._tag);
    const started = this.startedAt.get(task);
    if (started === undefined) return;
    this.startedAt.delete(task);
    const base = { ...attemptBase(queue, task.row), runMs: performance.now() - started };
    const event = endEvent(base, task, outcome);
    this.tracing?.end(task, event);
    this.emit(event);
    if (event._tag === "failed" && event.deadLetterQueue !== null)
      this.emit({
        ...attemptBase(queue, task.row),
        _tag: "deadLettered",
        deadLetterQueue: event.deadLetterQueue,
      });
  }

  /** The client closed: subscribers complete once their queued events are delivered. */
  complete(): void {
    this.subject.complete();
  }
}

const endEvent = <O>(
  base: AttemptEventBase & { readonly runMs: number },
  task: RunningTask,
  outcome: Outcome<O> | undefined,
): TaskEvent => {
  if (outcome === undefined) {
    // A cancel is written by the cancel (trigger task_cancel_wins), so the
    // worker gets no outcome for it; anything else unwritten lost the task.
    const cancelled = task.abort.reason?.kind === "cancelled";
    return { ...base, _tag: cancelled ? "cancelled" : "leaseLost" };
  }
  switch (outcome._tag) {
    case "succeeded":
      return { ...base, _tag: "succeeded" };
    case "cancelled":
      return { ...base, _tag: "cancelled" };
    case "retrying":
      return { ...base, _tag: "retrying", error: outcome.error, runAt: outcome.runAt };
    case "snoozed":
      return { ...base, _tag: "snoozed", runAt: outcome.runAt, delayMs: outcome.delayMs };
    case "failed":
      return { ...base, _tag: "failed", error: outcome.error, deadLetterQueue: outcome.deadLetterQueue };
  }
};
