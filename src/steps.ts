import { randomUUID } from "node:crypto";
import * as E from "fp-ts/lib/Either.js";
import { Observable, filter, map } from "rxjs";
import { jsonCodec } from "./codec.ts";
import type { JobDefinition, StepJobDefinition } from "./definition.ts";
import { ConfigError, TaskFailedError, UnderwayError, ValidationError, orThrow } from "./errors.ts";
import { checkJobId } from "./identifier.ts";
import {
  firstFinal,
  Job,
  type CheckedInput,
  type EnqueueOptions,
  type JobInternals,
  type Worker,
} from "./job.ts";
import { jsonProblem, type JsonValue } from "./json.ts";
import { resolveTaskOptions, type TaskOptionsInput } from "./options.ts";
import type { Outcome } from "./outcomes.ts";
import {
  tasksCancel,
  tasksLockJob,
  tasksEnqueue,
  tasksFindUnique,
  tasksGetLatestOfJob,
  type ClaimedRow,
  type TaskRow,
} from "./queries.ts";
import type { Underway } from "./underway.ts";
import type { TaskContext } from "./worker/execute.ts";
import type { DrainOptions, DrainResult, RunOnceOptions } from "./worker/runOnce.ts";
import { isTransactional } from "./worker/transactional.ts";
import type { WorkOptions } from "./worker/worker.ts";
import { checkWorkOptions } from "./worker/workOptions.ts";
/** Go on to the next step with this value, optionally after a delay. */
export interface Next<N> {
  /** Discriminant: always `"next"`. */
  readonly _tag: "next";
  /** The next step's input (JSON, since it is stored in the task row). */
  readonly value: N;
  /** How long the next step waits before it may run, in ms; 0 from {@link next}. */
  readonly delayMs: number;
}

/** End the job with this output. */
export interface Done<D> {
  /** Discriminant: always `"done"`. */
  readonly _tag: "done";
  /** The job's output, checked against the definition's output schema; `null` from `done()`. */
  readonly value: D;
}

/** Hands `value` to the next step at once. */
export const next = <N>(value: N): Next<N> => ({ _tag: "next", value, delayMs: 0 });

/** Hands `value` to the next step after `delayMs`. */
export const nextAfter = <N>(value: N, delayMs: number): Next<N> => {
  resolveTaskOptions({ delayMs });
  return { _tag: "next", value, delayMs };
};

/** Ends the job; `value` is the job's output (`null` when omitted). */
export function done(): Done<null>;
export function done<D>(value: D): Done<D>;
export function done<D>(value?: D): Done<D | null> {
  return { _tag: "done", value: value === undefined ? null : value };
}

/** What a step is told. */
export interface StepContext<S> extends TaskContext {
  /** The job run's id, shared by all its steps (scheduled runs too). */
  readonly jobId: string;
  /** 0-based. */
  readonly stepIndex: number;
  /** How many steps the job has. */
  readonly stepCount: number;
  /** The state given to `Steps.of`, shared by every step. */
  readonly state: S;
}

type StepFn = (input: unknown, context: StepContext<unknown>) => Promise<Next<unknown> | Done<unknown>>;

interface StepDefinition {
  readonly run: StepFn;
  readonly options: TaskOptionsInput | undefined;
}

/** What becomes of a job run. `stepSucceeded` and `retrying` are not final. */
export type JobOutcome<O> =
  | {
      /** A step returned `done`, or the last step returned: the run is over. */
      readonly _tag: "succeeded";
      /** The run's id, as `enqueue` returned it. */
      readonly jobId: string;
      /** The step that ended the run, 0-based. */
      readonly stepIndex: number;
      /** The `done` value, decoded with the definition's output schema. */
      readonly output: O;
    }
  | {
      /** A step returned `next`: its successor is enqueued. Not final. */
      readonly _tag: "stepSucceeded";
      /** The run's id. */
      readonly jobId: string;
      /** The step that succeeded, 0-based. */
      readonly stepIndex: number;
      /** The id of that step's task (its successor is a new task). */
      readonly taskId: string;
    }
  | {
      /** A step's attempt failed and will run again. Not final. */
      readonly _tag: "retrying";
      /** The run's id. */
      readonly jobId: string;
      /** The step being retried, 0-based. */
      readonly stepIndex: number;
      /** The failed attempt's error message. */
      readonly error: string;
      /** When the step's next attempt may start. */
      readonly runAt: Date;
    }
  | {
      /**
       * A step failed for good (retries exhausted, a `FatalError`), or the
       * `done` value failed the output schema: the run is over.
       */
      readonly _tag: "failed";
      /** The run's id. */
      readonly jobId: string;
      /** The step that failed, 0-based. */
      readonly stepIndex: number;
      /** The last attempt's error message. */
      readonly error: string;
    }
  | {
      /** The run was cancelled: no further step runs. */
      readonly _tag: "cancelled";
      /** The run's id. */
      readonly jobId: string;
      /** The step that was pending or running when it was cancelled, 0-based. */
      readonly stepIndex: number;
    };

/** What a step returned, as stored in its task's output. */
export type StepOutput = Next<unknown> | Done<unknown>;

/**
 * The steps of a multi-step job, chained so that each step's output type is
 * the next step's input type, checked by the compiler. Values handed between
 * steps are JSON ({@link JsonValue}); a `done` value is checked against the
 * definition's output schema. Built in the worker process and passed to
 * `underway.job(definition).start(steps)`.
 *
 * @example
 * const signupSteps = Steps.of(signup, { state: { mailer } })
 *   .step(async ({ userId }) => next({ userId, token: await makeToken(userId) }))
 *   .step(async ({ userId, token }, { state }) => { await state.mailer.send(userId, token); return nextAfter({ userId }, 86_400_000); })
 *   .step(async ({ userId }) => done({ remindedUserId: userId }));
 * const worker = underway.job(signup).start(signupSteps);
 */
export class Steps<V, Cur, Out, S, R> {
  /** Phantom: what the job's last value may be, for the compiler only. */
  declare readonly output?: Out | Cur;
  /** Phantom: the first step's input type, for the compiler only. */
  declare readonly input?: (input: V) => void;

  private constructor(
    /** @internal */
    readonly queue: string,
    /** @internal */
    readonly state: S,
    /** @internal */
    readonly steps: ReadonlyArray<StepDefinition>,
  ) {}

  /**
   * Starts a chain for a multi-step job definition; its input schema types
   * the first step's input. `state` is handed to every step.
   *
   * @example
   * const steps = Steps.of(signup, { state: { mailer } })
   *   .step(async ({ userId }) => next({ userId }))
   *   .step(async ({ userId }, { state }) => {
   *     await state.mailer.welcome(userId);
   *     return done({ welcomed: userId });
   *   });
   */
  static of<In, V, R, O, S = undefined>(
    definition: StepJobDefinition<In, V, R, O>,
    config: { readonly state?: S } = {},
  ): Steps<V, V, never, S, R> {
    return new Steps(definition.queue, config.state as S, []);
  }

  /**
   * Adds a step. `options` override the definition's task options for this
   * step's tasks (retry policy, timeout, priority, …); the first step's
   * options are the definition's, since producers enqueue it.
   */
  step<N extends JsonValue = never, D extends R = never>(
    run: (input: Cur, context: StepContext<S>) => Promise<Next<N> | Done<D>>,
    options?: TaskOptionsInput,
  ): Steps<V, N, Out | D, S, R> {
    if (options !== undefined) {
      // Checked where they are written, not when the step before finishes.
      resolveTaskOptions(options);
      if (options.uniqueKey !== undefined && options.uniqueKey !== null)
        throw new ConfigError(
          `a step of queue ${this.queue} cannot take a uniqueKey: a run whose next step found the key taken could not go on`,
        );
    }
    if (this.steps.length === 0 && options !== undefined)
      throw new ConfigError(
        `the first step of queue ${this.queue} takes its options from the job definition (producers enqueue it)`,
      );
    return new Steps<V, N, Out | D, S, R>(this.queue, this.state, [
      ...this.steps,
      { run: run as unknown as StepFn, options },
    ]);
  }
}

/**
 * A multi-step job type bound to a client: enqueue runs, follow them to
 * their output, cancel them, and (in a worker process) run their steps.
 * Get it with `underway.job(stepJobDefinition)`.
 */
export class StepJob<In, V, R, O> {
  private readonly job: Job<In, V, unknown, StepOutput>;

  /** @internal Use `underway.job(definition)`. */
  constructor(
    /** The client this handle uses. */
    readonly underway: Underway,
    /** The job type. */
    readonly definition: StepJobDefinition<In, V, R, O>,
  ) {
    const inner: JobDefinition<In, V, unknown, StepOutput> = {
      ...definition,
      kind: "job",
      output: jsonCodec<StepOutput>(),
    };
    this.job = new Job(underway, inner);
  }

  /** The queue's name. */
  get queue(): string {
    return this.definition.queue;
  }

  private checkStepOutput(returned: unknown, row: ClaimedRow, stepCount: number) {
    const output = returned as StepOutput;
    if (typeof output !== "object" || output === null || (output._tag !== "next" && output._tag !== "done"))
      throw new UnderwayError("a step must return next(value), nextAfter(value, ms) or done(value)");
    const index = row.step_index ?? 0;
    const last = output._tag === "done" || index >= stepCount - 1;
    if (last) {
      // The job's output: checked against the definition's output schema.
      const checked = this.definition.output.check(output.value as R);
      if (E.isLeft(checked)) throw new ValidationError(`output of job on queue ${this.queue}`, checked.left);
      const stored: StepOutput = { _tag: "done", value: checked.right.stored };
      return { value: stored, stored, json: JSON.stringify(stored) };
    }
    const problem = jsonProblem(output.value);
    if (problem !== undefined)
      throw new ValidationError(
        `value step ${index + 1} of ${stepCount} (queue ${this.queue}) hands to the next step`,
        {
          _tag: "DecodeError",
          paths: [problem.path],
          message: `${problem.path}: ${problem.message}`,
        },
      );
    return { value: output, stored: output, json: JSON.stringify(output) };
  }

  private continuation(output: StepOutput, row: ClaimedRow, steps: ReadonlyArray<StepDefinition>) {
    const nextIndex = (row.step_index ?? 0) + 1;
    if (output._tag !== "next" || nextIndex >= steps.length || row.job_id === null) return undefined;
    return this.job.columnsOf(
      [{ value: output.value as V, stored: output.value, json: JSON.stringify(output.value) }],
      { ...steps[nextIndex]?.options, delayMs: output.delayMs },
      { jobId: row.job_id, stepIndex: nextIndex },
    );
  }

  /** Validates the input and enqueues a new run; resolves with its job id. */
  async enqueue(input: In, options?: EnqueueOptions): Promise<string> {
    const [jobId] = await this.enqueueMany([input], options);
    if (jobId === undefined) throw new UnderwayError("enqueue returned no job id");
    return jobId;
  }

  /** Enqueues many runs in one statement; all-or-nothing on invalid input. Resolves with their job ids. */
  async enqueueMany(inputs: ReadonlyArray<In>, options?: EnqueueOptions): Promise<string[]> {
    const valid = inputs.map((input, index) => this.job.check(input, index));
    const columns = this.columnsOf(valid, options);
    await this.underway.register(this.definition);
    const { sql, pool } = this.underway;
    const db = options?.client ?? pool;
    const rows = await this.underway.lifecycle.produce(
      this.queue,
      (trace) => orThrow(tasksEnqueue(sql, db, this.queue, columns, trace)()),
      (inserted) => inserted.map((row) => row.id),
    );
    const jobIds = columns.jobId as string[];
    if (rows.length === jobIds.length) return jobIds;
    // A live run holds a unique key: that input gets the run's job id, not
    // the id of a run that was never inserted.
    const inserted = new Set(rows.map((row) => row.unique_key));
    const taken = columns.uniqueKey.filter((key): key is string => key !== null && !inserted.has(key));
    const existing = await orThrow(tasksFindUnique(sql, db, this.queue, taken)());
    const byKey = new Map(existing.map((row) => [row.unique_key, row.job_id]));
    return jobIds.map((jobId, index) => {
      const key = columns.uniqueKey[index] ?? null;
      if (key === null || inserted.has(key)) return jobId;
      const holder = byKey.get(key);
      if (holder === undefined || holder === null)
        throw new UnderwayError(
          `unique key ${JSON.stringify(key.slice(0, 40))} is held by a task that is not a job run`,
        );
      return holder;
    });
  }

  /**
   * @internal Task rows of new runs, one per valid input, each with a job id
   * of its own; schedules enqueue their runs through this too.
   */
  columnsOf(inputs: ReadonlyArray<CheckedInput<V>>, options: EnqueueOptions | undefined) {
    const columns = inputs.map((input) =>
      this.job.columnsOf([input], options, { jobId: randomUUID(), stepIndex: 0 }),
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

  /** Outcomes of every run of this job, step by step, from every process. Completes when the client closes. */
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
        if (outcome.output._tag !== "done") return { ...base, _tag: "stepSucceeded", taskId: outcome.taskId };
        const loaded = this.definition.output.load(outcome.output.value);
        return E.isRight(loaded)
          ? { ...base, _tag: "succeeded", output: loaded.right }
          : { ...base, _tag: "failed", error: `output failed its schema: ${loaded.left.message}` };
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
  outcome(jobId: string, options: { readonly pollIntervalMs?: number } = {}): Promise<JobOutcome<O>> {
    checkJobId(jobId);
    const { sql, pool } = this.underway;
    return firstFinal<JobOutcome<O>>(
      this.underway,
      this.job.outcomesOf$(jobId).pipe(
        filter((outcome) => outcome.jobId === jobId),
        map((outcome) => this.jobOutcome(outcome)),
        filter((outcome): outcome is JobOutcome<O> => outcome !== undefined),
      ),
      async () => {
        const row = await orThrow(tasksGetLatestOfJob(sql, pool, jobId)());
        if (row === undefined || !this.job.owns(row))
          throw new UnderwayError(`no job with id ${jobId} in queue ${this.queue}`);
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
  result(jobId: string): Promise<O> {
    checkJobId(jobId);
    return this.resultOf(jobId);
  }

  private async resultOf(jobId: string): Promise<O> {
    const outcome = await this.outcome(jobId);
    if (outcome._tag === "succeeded") return outcome.output;
    if (outcome._tag === "failed" || outcome._tag === "cancelled") {
      throw new TaskFailedError(jobId, outcome._tag, outcome._tag === "failed" ? outcome.error : null);
    }
    throw new UnderwayError(`job ${jobId} ended as ${outcome._tag}`);
  }

  /**
   * Cancels a run: its pending step becomes cancelled, a running step's
   * signal fires and the step ends cancelled when its handler returns.
   * No step of the run starts afterwards, even one whose predecessor was
   * completing at that moment (see docs/design/concurrency-keys.md).
   */
  cancel(jobId: string): Promise<boolean> {
    checkJobId(jobId);
    return this.cancelOf(jobId);
  }

  private async cancelOf(jobId: string): Promise<boolean> {
    const { sql } = this.underway;
    const client = await this.underway.pool.connect();
    try {
      // The job's lock first, in a statement of its own: the cancel then
      // reads in a snapshot that holds every step a completion enqueued,
      // and no completion can enqueue one until it commits.
      await client.query("begin");
      await orThrow(tasksLockJob(sql, client, jobId)());
      const rows = await orThrow(tasksCancel(sql, client, null, jobId, this.queue)());
      await client.query("commit");
      return rows.length > 0;
    } catch (error) {
      await client.query("rollback").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** The one handler that runs a chain's steps by index, and how its tasks are decoded, continued and committed. */
  private runnerOf<S>(steps: Steps<V, unknown, R, S, R>) {
    const chain = steps.steps;
    const stepCount = chain.length;
    if (stepCount === 0) throw new ConfigError(`the job on queue ${this.queue} needs at least one step`);
    if (steps.queue !== this.queue)
      throw new ConfigError(`steps built for queue ${steps.queue} cannot run on queue ${this.queue}`);
    const state = steps.state;
    const handler = async (input: unknown, context: TaskContext): Promise<StepOutput> => {
      const index = context.stepIndex ?? 0;
      const step = chain[index];
      if (step === undefined || context.jobId === null) {
        throw new UnderwayError(`task ${context.taskId} names step ${index} of a ${stepCount}-step job`);
      }
      // The spread keeps a transactional step's `tx`.
      return step.run(input, { ...context, jobId: context.jobId, stepIndex: index, stepCount, state });
    };
    const input = this.definition.input;
    // Only steps marked `transactional` hold a connection while they run.
    const transactional = chain.some((step) => isTransactional(step.run))
      ? (row: ClaimedRow) => isTransactional(chain[row.step_index ?? 0]?.run)
      : undefined;
    const internals: JobInternals<V, StepOutput> = {
      // The definition's schema describes the first step's input; later
      // inputs were produced by the previous step of this same code.
      decodeTaskInput: (value, row) =>
        (row.step_index ?? 0) === 0 ? input.load(value) : E.right(value as V),
      continuation: (output, row) => this.continuation(output, row, chain),
      encodeOutput: (returned, row) => this.checkStepOutput(returned, row, stepCount),
      ...(transactional === undefined ? {} : { transactional }),
    };
    return { handler, internals };
  }

  /**
   * Starts a worker running `steps` (built with `Steps.of(definition)`);
   * `stop()` ends it gracefully. Bad options throw a `ConfigError` here.
   */
  start<S>(steps: Steps<V, unknown, R, S, R>, options: WorkOptions = {}): Worker<StepOutput> {
    checkWorkOptions(options);
    const { handler, internals } = this.runnerOf(steps);
    return this.job.startWith(handler, options, internals);
  }

  /**
   * Claims at most one due step of any run and runs it here (see
   * `Job.runOnce`); its next step, if any, is enqueued as a worker would.
   * Resolves with the step's task outcome, or `undefined` when none was due.
   */
  async runOnce<S>(
    steps: Steps<V, unknown, R, S, R>,
    options: RunOnceOptions = {},
  ): Promise<Outcome<StepOutput> | undefined> {
    const { handler, internals } = this.runnerOf(steps);
    return this.job.runOnceWith(handler, options, internals);
  }

  /**
   * Runs due steps here until none is due (see `Job.drain`): a run whose
   * next steps follow at once runs to its end; a delayed step is left for later.
   */
  async drain<S>(steps: Steps<V, unknown, R, S, R>, options: DrainOptions = {}): Promise<DrainResult> {
    const { handler, internals } = this.runnerOf(steps);
    return this.job.drainWith(handler, options, internals);
  }

  /** A worker as an Observable of its task outcomes: subscribe runs, unsubscribe stops gracefully. */
  work<S>(steps: Steps<V, unknown, R, S, R>, options: WorkOptions = {}): Observable<Outcome<StepOutput>> {
    checkWorkOptions(options);
    this.underway.assertOpen();
    return new Observable<Outcome<StepOutput>>((subscriber) => {
      const worker = this.start(steps, options);
      const sub = worker.outcomes$.subscribe(subscriber);
      return () => {
        sub.unsubscribe();
        void worker.stop();
      };
    });
  }
}
