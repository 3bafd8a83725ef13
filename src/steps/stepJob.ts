import { queueProgress$, type TaskProgress } from "../notify/taskProgress.ts";
import type { Observable } from "rxjs";
import { checkOptionShape } from "../optionShape.ts";
import { outcomeOptionShape } from "../notify/firstFinal.ts";
import { cancelRun } from "../cancel.ts";
import type { StepJobDefinition } from "../definition.ts";
import { UnderwayError, orThrow } from "../errors.ts";
import type { CheckedInput } from "../enqueue/checkInput.ts";
import type { EnqueueOptions } from "../enqueue/enqueueOptions.ts";
import { enqueueRuns, runColumns } from "../enqueue/enqueueRuns.ts";
import { checkJobId } from "../identifier.ts";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import type { AttemptRow } from "../db/historyQueries.ts";
import type { TaskSummary } from "../ops/types.ts";
import { drainHere, runOnceHere } from "../run/runHere.ts";
import { startWorker, workerOutcomes$, type Worker } from "../run/startWorker.ts";
import type { JobDeps } from "../client/clientDeps.ts";
import type { Underway } from "../underway.ts";
import type { DrainOptions, DrainResult, RunOnceOptions } from "../worker/runOnce.ts";
import type { WorkOptions } from "../worker/worker.ts";
import { checkWorkOptions } from "../worker/workOptions.ts";
import type { JobOutcome } from "./jobOutcome.ts";
import { RunOutcomes } from "./runOutcomes.ts";
import { stepRunner } from "./stepRunner.ts";
import type { StepOutput, Steps } from "./steps.ts";

// The public face of multi-step jobs: src/index.ts takes all of it from here.
export {
  Steps,
  next,
  nextAfter,
  done,
  type Next,
  type Done,
  type StepContext,
  type StepOptions,
  type StepOutput,
  type FannedOut,
} from "./steps.ts";
export type { JobOutcome } from "./jobOutcome.ts";

/** One attempt of one step of a run: see `StepJob.attempts`. */
export interface StepAttempt extends AttemptRow {
  /** The step's task id. */
  readonly taskId: string;
  /** The step, 0-based. */
  readonly stepIndex: number;
}

/**
 * A multi-step job type bound to a client: enqueue runs, follow them to
 * their output, cancel them, and (in a worker process) run their steps.
 * Get it with `underway.job(stepJobDefinition)`.
 */
export class StepJob<In, V, R, O> {
  private readonly runs: RunOutcomes<O>;

  /** @internal Use `underway.job(definition)`. */
  constructor(
    /** The client this handle uses. */
    readonly underway: Underway,
    /** What this handle's enqueues, outcomes, cancels and workers need of the client. */
    private readonly deps: JobDeps,
    /** The job type. */
    readonly definition: StepJobDefinition<In, V, R, O>,
  ) {
    this.runs = new RunOutcomes(deps, definition.queue, (value) => definition.output.load(value));
  }

  /** The queue's name. */
  get queue(): string {
    return this.definition.queue;
  }

  /** Validates the input and enqueues a new run; resolves with its job id. */
  async enqueue(input: In, options?: EnqueueOptions): Promise<string> {
    const [jobId] = await this.enqueueMany([input], options);
    if (jobId === undefined) throw new UnderwayError("enqueue returned no job id");
    return jobId;
  }

  /** Enqueues a run after a delay. Same as `enqueue(input, { delayMs })`. */
  enqueueAfter(input: In, delayMs: number, options?: EnqueueOptions): Promise<string> {
    return this.enqueue(input, { ...options, delayMs });
  }

  /**
   * Every attempt of every step of a run so far, oldest first, each with
   * its step's index and task id. Rejects with an `UnderwayError` for a
   * run this queue does not have.
   */
  async attempts(jobId: string): Promise<ReadonlyArray<StepAttempt>> {
    checkJobId(jobId);
    const steps: TaskSummary[] = [];
    let after: string | undefined;
    do {
      // By job id alone: a dead-lettered step's row sits in the DLQ.
      const page = await this.underway.ops.tasks(
        { jobId },
        { order: "oldest", limit: 1_000, ...(after === undefined ? {} : { after }) },
      );
      steps.push(...page.tasks);
      after = page.next ?? undefined;
    } while (after !== undefined);
    const ours = [this.queue, this.definition.dlq];
    if (!steps.some((step) => ours.includes(step.queue)))
      throw new UnderwayError(`no job with id ${jobId} in queue ${this.queue}`);
    const { store, pool } = this.deps;
    const perStep = await Promise.all(
      steps.map(async (step) =>
        (await orThrow(store.taskAttemptsList(pool, { id: step.id })())).map((attempt): StepAttempt => ({
          ...attempt,
          taskId: step.id,
          stepIndex: step.stepIndex ?? 0,
        })),
      ),
    );
    return perStep.flat();
  }

  /** Enqueues many runs in one statement; all-or-nothing on invalid input. Resolves with their job ids. */
  async enqueueMany(inputs: ReadonlyArray<In>, options?: EnqueueOptions): Promise<string[]> {
    return enqueueRuns(this.deps, this.definition, inputs, options);
  }

  /**
   * @internal Task rows of new runs, one per valid input, each with a job id
   * of its own; schedules enqueue their runs through this too.
   */
  columnsOf(inputs: ReadonlyArray<CheckedInput<V>>, options: EnqueueOptions | undefined): EnqueueColumns {
    return runColumns(this.definition, inputs, options);
  }

  /** Outcomes of every run of this job, step by step, from every process. Completes when the client closes. */
  get outcomes$(): Observable<JobOutcome<O>> {
    return this.runs.all$;
  }
  /**
   * Progress its steps report (`ctx.progress`), from every process: each
   * value says which run (`jobId`) and step (`stepIndex`). As `Job.progress$`.
   */
  get progress$(): Observable<TaskProgress> {
    return queueProgress$(this.deps, this.definition.queue);
  }

  /** The final outcome of a run, also when it finished before the call. */
  outcome(jobId: string, options: { readonly pollIntervalMs?: number } = {}): Promise<JobOutcome<O>> {
    checkJobId(jobId);
    checkOptionShape("outcome options", options, outcomeOptionShape);
    return this.runs.final(jobId, options.pollIntervalMs);
  }

  /** The run's output (the `done` value); rejects with `TaskFailedError` if a step failed or it was cancelled. */
  result(jobId: string): Promise<O> {
    checkJobId(jobId);
    return this.runs.result(jobId);
  }

  /**
   * Cancels a run: its pending step becomes cancelled, a running step's
   * signal fires and the step ends cancelled when its handler returns.
   * No step of the run starts afterwards, even one whose predecessor was
   * completing at that moment (see docs/design/concurrency-keys.md).
   */
  cancel(jobId: string): Promise<boolean> {
    checkJobId(jobId);
    return cancelRun(this.deps, this.queue, jobId);
  }

  /**
   * Starts a worker running `steps` (built with `Steps.of(definition)`);
   * `stop()` ends it gracefully. Bad options throw a `ConfigError` here.
   * Its `outcomes$` emits run outcomes, as the handle's `outcomes$` does,
   * for the steps this worker ran.
   */
  start<S>(steps: Steps<V, unknown, R, S, R>, options: WorkOptions = {}): Worker<StepOutput, JobOutcome<O>> {
    checkWorkOptions(options);
    const worker = startWorker(this.deps, this.definition, stepRunner(this.definition, steps), options);
    return { outcomes$: worker.outcomes$.pipe(this.runs.asRunOutcomes), stop: () => worker.stop() };
  }

  /**
   * Claims at most one due step of any run and runs it here (see
   * `Job.runOnce`); its next step, if any, is enqueued as a worker would.
   * Resolves with the step's outcome as an outcome of its run, or
   * `undefined` when none was due.
   */
  async runOnce<S>(
    steps: Steps<V, unknown, R, S, R>,
    options: RunOnceOptions = {},
  ): Promise<JobOutcome<O> | undefined> {
    const outcome = await runOnceHere(
      this.deps,
      this.definition,
      stepRunner(this.definition, steps),
      options,
    );
    return outcome === undefined ? undefined : this.runs.ofStep(outcome);
  }

  /**
   * Runs due steps here until none is due (see `Job.drain`): a run whose
   * next steps follow at once runs to its end; a delayed step is left for later.
   */
  async drain<S>(steps: Steps<V, unknown, R, S, R>, options: DrainOptions = {}): Promise<DrainResult> {
    return drainHere(this.deps, this.definition, stepRunner(this.definition, steps), options);
  }

  /** A worker as an Observable of its run outcomes: subscribe runs, unsubscribe stops gracefully. */
  work<S>(steps: Steps<V, unknown, R, S, R>, options: WorkOptions = {}): Observable<JobOutcome<O>> {
    return workerOutcomes$(this.deps, options, () => this.start(steps, options));
  }
}
