import type * as E from "fp-ts/lib/Either.js";
import { filter, map, type Observable } from "rxjs";
import { jsonCodec } from "../codec.ts";
import { TaskFailedError, UnderwayError, orThrow } from "../errors.ts";
import { firstFinal } from "../notify/firstFinal.ts";
import { TaskOutcomes } from "../notify/taskOutcomes.ts";
import type { Outcome } from "../outcomes.ts";
import type { OutcomeDeps } from "../client/clientDeps.ts";
import { jobOutcomeOf, rowOutcome, type JobOutcome } from "./jobOutcome.ts";
import type { StepOutput } from "./steps.ts";

const isFannedOut = (output: unknown): boolean =>
  typeof output === "object" && output !== null && (output as { _tag?: unknown })._tag === "fanOut";

/**
 * One multi-step queue's outcomes as run outcomes: its step tasks' outcomes
 * (what steps returned, as stored) mapped to what became of their runs,
 * `done` values decoded by the definition's output schema.
 */
export class RunOutcomes<O> {
  private readonly tasks: TaskOutcomes<StepOutput>;

  constructor(
    private readonly deps: OutcomeDeps,
    private readonly queue: string,
    private readonly decodeOutput: (value: unknown) => E.Either<{ readonly message: string }, O>,
  ) {
    this.tasks = new TaskOutcomes(deps, queue, jsonCodec<StepOutput>().load);
  }

  /** Outcomes of every run, step by step, from every process. */
  get all$(): Observable<JobOutcome<O>> {
    return this.tasks.all$.pipe(this.asRunOutcomes);
  }

  /** Step task outcomes (a worker's, or notified) as outcomes of their runs. */
  readonly asRunOutcomes = (outcomes: Observable<Outcome<StepOutput>>): Observable<JobOutcome<O>> =>
    outcomes.pipe(
      map((outcome) => this.ofStep(outcome)),
      filter((outcome): outcome is JobOutcome<O> => outcome !== undefined),
    );

  /** One step task's outcome as an outcome of its run (`undefined` for a task of no run). */
  ofStep(outcome: Outcome<StepOutput>): JobOutcome<O> | undefined {
    return jobOutcomeOf(outcome, this.decodeOutput);
  }

  /** The final outcome of a run: notified, or read from its latest step's row. */
  final(jobId: string, pollIntervalMs?: number): Promise<JobOutcome<O>> {
    const { store, pool } = this.deps;
    return firstFinal<JobOutcome<O>>(
      this.deps,
      this.tasks.of$(jobId).pipe(
        filter((outcome) => outcome.jobId === jobId),
        this.asRunOutcomes,
      ),
      async () => {
        const row = await orThrow(store.tasksGetLatestOfJob(pool, { jobId })());
        if (row === undefined || !this.tasks.owns(row))
          throw new UnderwayError(`no job with id ${jobId} in queue ${this.queue}`);
        // A step that fanned out is the furthest until the children end.
        return row.state === "pending" || row.state === "in_progress" || isFannedOut(row.output)
          ? undefined
          : jobOutcomeOf(rowOutcome(row), this.decodeOutput);
      },
      pollIntervalMs,
    );
  }

  /** The run's `done` value; `TaskFailedError` if a step failed or the run was cancelled. */
  async result(jobId: string): Promise<O> {
    const outcome = await this.final(jobId);
    if (outcome._tag === "succeeded") return outcome.output;
    if (outcome._tag === "failed" || outcome._tag === "cancelled") {
      throw new TaskFailedError(jobId, outcome._tag, outcome._tag === "failed" ? outcome.error : null);
    }
    throw new UnderwayError(`job ${jobId} ended as ${outcome._tag}`);
  }
}
