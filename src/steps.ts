import { randomUUID } from "node:crypto";
import * as E from "fp-ts/lib/Either.js";
import { filter, map, type Observable } from "rxjs";
import { decodeWith } from "./codec.ts";
import { TaskFailedError, UnderwayError, ValidationError, type DecodeError } from "./errors.ts";
import { firstFinal, Job, type EnqueueOptions, type JobOptions, type Worker } from "./job.ts";
import type { TaskOptionsInput } from "./options.ts";
import type { Outcome } from "./outcomes.ts";
import {
  tasksCancel,
  tasksEnqueue,
  tasksGetLatestOfJob,
  type ClaimedRow,
  type EnqueueColumns,
  type TaskRow,
} from "./queries.ts";
import type { Queue } from "./queue.ts";
import { orThrow, type Underway } from "./underway.ts";
import type { TaskContext } from "./worker/execute.ts";
import type { WorkOptions } from "./worker/worker.ts";

/** Go on to the next step with this value, optionally after a delay. */
export interface Next<N> {
  readonly _tag: "next";
  readonly value: N;
  readonly delayMs: number;
}

/** End the job with this output. */
export interface Done<D> {
  readonly _tag: "done";
  readonly value: D;
}

/** Hands `value` to the next step at once. */
export const next = <N>(value: N): Next<N> => ({ _tag: "next", value, delayMs: 0 });

/** Hands `value` to the next step after `delayMs`. */
export const nextAfter = <N>(value: N, delayMs: number): Next<N> => ({ _tag: "next", value, delayMs });

/** Ends the job; `value` is the job's output. */
export function done(): Done<undefined>;
export function done<D>(value: D): Done<D>;
export function done<D>(value?: D): Done<D | undefined> {
  return { _tag: "done", value };
}

/** What a step is told. */
export interface StepContext<S> extends TaskContext {
  /** The job run's id, shared by all its steps (scheduled runs too). */
  readonly jobId: string;
  /** 0-based. */
  readonly stepIndex: number;
  readonly stepCount: number;
  /** The state given to `Steps.on`, shared by every step. */
  readonly state: S;
}

type StepFn = (input: unknown, context: StepContext<unknown>) => Promise<Next<unknown> | Done<unknown>>;

interface StepDefinition {
  readonly run: StepFn;
  readonly options: TaskOptionsInput | undefined;
}

/** What becomes of a job run. `stepSucceeded` and `retrying` are not final. */
export type JobOutcome<O> =
  | { readonly _tag: "succeeded"; readonly jobId: string; readonly stepIndex: number; readonly output: O }
  | {
      readonly _tag: "stepSucceeded";
      readonly jobId: string;
      readonly stepIndex: number;
      readonly taskId: string;
    }
  | {
      readonly _tag: "retrying";
      readonly jobId: string;
      readonly stepIndex: number;
      readonly error: string;
      readonly runAt: Date;
    }
  | { readonly _tag: "failed"; readonly jobId: string; readonly stepIndex: number; readonly error: string }
  | { readonly _tag: "cancelled"; readonly jobId: string; readonly stepIndex: number };

/** What a step returned, as stored in its task's output. */
export type StepOutput = Next<unknown> | Done<unknown>;

/**
 * Chains typed steps: each step's output type is the next step's input
 * type, checked by the compiler.
 *
 * @example
 * const signup = Steps.on(underway, queue, { state: { mailer } })
 *   .step(async ({ userId }) => next({ userId, token: await makeToken(userId) }))
 *   .step(async ({ userId, token }, { state }) => { await state.mailer.send(userId, token); return nextAfter({ userId }, 86_400_000); })
 *   .step(async ({ userId }) => done({ remindedUserId: userId }))
 *   .build();
 */
export class Steps<I, Cur, Out, S> {
  private constructor(
    private readonly underway: Underway,
    private readonly queue: Queue<I, unknown>,
    private readonly state: S,
    private readonly options: JobOptions<I, never>,
    private readonly steps: ReadonlyArray<StepDefinition>,
  ) {}

  /** Starts a chain on a queue; the queue's codec types and validates the first step's input. */
  static on<I, IO, S = undefined>(
    underway: Underway,
    queue: Queue<I, IO>,
    config: { readonly state?: S; readonly options?: JobOptions<I, never> } = {},
  ): Steps<I, I, never, S> {
    return new Steps(underway, queue as Queue<I, unknown>, config.state as S, config.options ?? {}, []);
  }

  /** Adds a step; `options` override the job's for this step's tasks (retry policy, timeout, priority, ...). */
  step<N = never, D = never>(
    run: (input: Cur, context: StepContext<S>) => Promise<Next<N> | Done<D>>,
    options?: TaskOptionsInput,
  ): Steps<I, N, Out | D, S> {
    return new Steps<I, N, Out | D, S>(this.underway, this.queue, this.state, this.options, [
      ...this.steps,
      { run: run as unknown as StepFn, options },
    ]);
  }

  /** The runnable job. A last step's `next(value)` ends the job with `value` too. */
  build(): StepJob<I, Out | Cur> {
    if (this.steps.length === 0) throw new RangeError("a job needs at least one step");
    return new StepJob(this.underway, this.queue, this.state, this.options, this.steps);
  }
}

/** A multi-step job: enqueue runs, run workers, follow runs to their output. */
export class StepJob<I, O> {
  private readonly job: Job<unknown, StepOutput>;
  private readonly decodeFirst: ReturnType<typeof decodeWith<I, unknown, unknown>>;

  /** @internal Use `Steps.on(...).step(...).build()`. */
  constructor(
    readonly underway: Underway,
    readonly queue: Queue<I, unknown>,
    state: unknown,
    options: JobOptions<I, never>,
    private readonly steps: ReadonlyArray<StepDefinition>,
  ) {
    this.decodeFirst = decodeWith(queue.input);
    const stepCount = steps.length;
    const handler = async (input: unknown, context: TaskContext): Promise<StepOutput> => {
      const index = context.stepIndex ?? 0;
      const step = steps[index];
      if (step === undefined || context.jobId === null) {
        throw new UnderwayError(`task ${context.taskId} names step ${index} of a ${stepCount}-step job`);
      }
      return step.run(input, { ...context, jobId: context.jobId, stepIndex: index, stepCount, state });
    };
    this.job = Job.withInternals<unknown, StepOutput>(
      underway,
      queue as Queue<unknown, unknown>,
      handler,
      options as JobOptions<unknown, StepOutput>,
      {
        // The queue's codec describes the first step's input; later inputs
        // were produced by the previous step of this same code.
        decodeTaskInput: (value, row) =>
          (row.step_index ?? 0) === 0 ? this.decodeFirst(value) : E.right(value),
        continuation: (output, row) => this.continuation(output, row),
      },
    );
  }

  private continuation(output: StepOutput, row: ClaimedRow) {
    const nextIndex = (row.step_index ?? 0) + 1;
    if (output._tag !== "next" || nextIndex >= this.steps.length || row.job_id === null) return undefined;
    return this.job.columnsOf(
      [output.value],
      { ...this.steps[nextIndex]?.options, delayMs: output.delayMs },
      {
        jobId: row.job_id,
        stepIndex: nextIndex,
        encode: (value) => value,
      },
    );
  }

  /** Validates the input and enqueues a new run; resolves with its job id. */
  async enqueue(input: I, options?: EnqueueOptions): Promise<string> {
    const [jobId] = await this.enqueueMany([input], options);
    if (jobId === undefined) throw new UnderwayError("enqueue returned no job id");
    return jobId;
  }

  /** Enqueues many runs in one statement per 5,000; all-or-nothing on invalid input. */
  async enqueueMany(inputs: ReadonlyArray<I>, options?: EnqueueOptions): Promise<string[]> {
    const valid = inputs.map((input, index) =>
      E.getOrElseW((error: DecodeError) => {
        throw new ValidationError(`invalid input for job on queue ${this.queue.name} (item ${index})`, error);
      })(this.decodeFirst(input)),
    );
    const columns = this.columnsOf(valid, options);
    await orThrow(
      tasksEnqueue(this.underway.sql, options?.client ?? this.underway.pool, this.queue.name, columns)(),
    );
    return columns.jobId as string[];
  }

  /**
   * @internal Task rows of new runs, one per valid input, each with a job id
   * of its own; schedules enqueue their runs through this too.
   */
  columnsOf(inputs: ReadonlyArray<I>, options: EnqueueOptions | undefined): EnqueueColumns {
    const first = this.steps[0]?.options;
    const columns = inputs.map((input) =>
      this.job.columnsOf(
        [input],
        { ...first, ...options },
        {
          jobId: randomUUID(),
          stepIndex: 0,
          encode: (value) => this.queue.input.encode(value as I),
        },
      ),
    );
    return columns.reduce(
      (all, one) => {
        for (const key of Object.keys(all) as Array<keyof typeof all>)
          (all[key] as unknown[]).push(...(one[key] as unknown[]));
        return all;
      },
      this.job.columnsOf([], undefined),
    );
  }

  /** Outcomes of every run of this job, step by step, from every process. */
  get outcomes$(): Observable<JobOutcome<O>> {
    return this.job.outcomes$.pipe(
      map((outcome) => this.jobOutcome(outcome)),
      filter((outcome): outcome is JobOutcome<O> => outcome !== undefined),
    );
  }

  private jobOutcome(outcome: Outcome<StepOutput>): JobOutcome<O> | undefined {
    if (outcome.jobId === null) return undefined;
    const base = { jobId: outcome.jobId, stepIndex: outcome.stepIndex ?? 0 };
    switch (outcome._tag) {
      case "succeeded": {
        const last = base.stepIndex >= this.steps.length - 1;
        return outcome.output._tag === "done" || last
          ? { ...base, _tag: "succeeded", output: outcome.output.value as O }
          : { ...base, _tag: "stepSucceeded", taskId: outcome.taskId };
      }
      case "retrying":
        return { ...base, _tag: "retrying", error: outcome.error, runAt: outcome.runAt };
      case "failed":
        return { ...base, _tag: "failed", error: outcome.error };
      case "cancelled":
        return { ...base, _tag: "cancelled" };
    }
  }

  /** The final outcome of a run, also when it finished before the call. */
  outcome(jobId: string, options: { readonly pollIntervalMs?: number } = {}) {
    const { sql, pool } = this.underway;
    return firstFinal<JobOutcome<O>>(
      this.underway,
      this.outcomes$.pipe(filter((outcome) => outcome.jobId === jobId)),
      async () => {
        const row = await orThrow(tasksGetLatestOfJob(sql, pool, jobId)());
        if (row === undefined) throw new UnderwayError(`no job with id ${jobId}`);
        return row.state === "pending" || row.state === "in_progress"
          ? undefined
          : this.jobOutcome(this.rowOutcome(row));
      },
      options.pollIntervalMs,
    );
  }

  private rowOutcome(row: TaskRow): Outcome<StepOutput> {
    const base = {
      taskId: row.id,
      queue: row.queue,
      attempt: row.attempt,
      jobId: row.jobId,
      stepIndex: row.stepIndex,
    };
    switch (row.state) {
      case "succeeded":
        return { ...base, _tag: "succeeded", output: row.output as StepOutput };
      case "cancelled":
        return { ...base, _tag: "cancelled" };
      default:
        return { ...base, _tag: "failed", error: row.error ?? "", deadLetterQueue: null };
    }
  }

  /** The run's output (the `done` value); rejects with `TaskFailedError` if a step failed or it was cancelled. */
  async result(jobId: string): Promise<O> {
    const outcome = await this.outcome(jobId);
    if (outcome._tag === "succeeded") return outcome.output;
    if (outcome._tag === "failed" || outcome._tag === "cancelled") {
      throw new TaskFailedError(jobId, outcome._tag, outcome._tag === "failed" ? outcome.error : null);
    }
    throw new UnderwayError(`job ${jobId} ended as ${outcome._tag}`);
  }

  /**
   * Cancels a run: its pending step becomes cancelled, a running step's
   * signal fires. Run twice: a step completing concurrently may have
   * enqueued its successor after the first pass's snapshot.
   */
  async cancel(jobId: string): Promise<boolean> {
    const { sql, pool } = this.underway;
    const first = await orThrow(tasksCancel(sql, pool, null, jobId)());
    const second = await orThrow(tasksCancel(sql, pool, null, jobId)());
    return first.length + second.length > 0;
  }

  /** Starts a worker for this job's steps; `stop()` ends it gracefully. */
  start(options?: WorkOptions): Worker<StepOutput> {
    return this.job.start(options);
  }

  /** A worker as an Observable of its task outcomes: subscribe runs, unsubscribe stops gracefully. */
  work(options?: WorkOptions): Observable<Outcome<StepOutput>> {
    return this.job.work(options);
  }
}
