import type * as E from "fp-ts/lib/Either.js";
import { filter, map, type Observable } from "rxjs";
import { TaskFailedError, UnderwayError } from "../errors.ts";
import { toOutcome, type FinalOutcome, type Outcome } from "../outcomes.ts";
import type { OutcomeDeps } from "../client/clientDeps.ts";
import { guarded } from "../guarded.ts";
import { yieldingBuffer } from "../worker/yieldingBuffer.ts";
import { firstFinal, readRow } from "./firstFinal.ts";

/**
 * One queue's outcomes, with outputs decoded by one decoder: the stream of
 * every outcome, the outcomes of one task or run, and the wait for a task's
 * final outcome. `Job` decodes with its definition's output schema;
 * `StepJob` decodes what steps return and maps that to run outcomes.
 */
export class TaskOutcomes<O> {
  constructor(
    private readonly deps: OutcomeDeps,
    private readonly queue: string,
    private readonly decodeOutput: (value: unknown) => E.Either<unknown, O>,
  ) {}

  /**
   * Outcomes of this queue's tasks from every process, a buffer per
   * subscriber; it completes when the client closes. A subscriber's
   * callback that throws is logged and ignored (see src/guarded.ts).
   */
  get all$(): Observable<Outcome<O>> {
    const name = this.queue;
    const { log } = this.deps;
    const outcomes$ = this.deps.outcomeFeed.sources$.pipe(
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
    // A subscriber that throws must not end the process (rxjs reports it as
    // uncaught) nor cost the other subscribers their outcomes.
    return guarded(outcomes$, log, `outcomes$ of queue ${name}`);
  }

  /** Outcomes of one task or one job run (by id), from the client's shared waiter map. */
  of$(key: string): Observable<Outcome<O>> {
    return this.deps.outcomeFeed.for$(key).pipe(
      filter((source) => this.owns(source)),
      map((source) => toOutcome(source, this.decodeOutput)),
      filter((outcome): outcome is Outcome<O> => outcome !== undefined),
    );
  }

  /** A row of this queue, or of its DLQ that came from this queue. */
  owns(row: { readonly queue: string; readonly dlqFrom?: string | null }): boolean {
    return row.queue === this.queue || row.dlqFrom === this.queue;
  }

  /** The final outcome of a task: notified, or read from its row (also when it finished before the call). */
  final(taskId: string, pollIntervalMs?: number): Promise<FinalOutcome<O>> {
    return firstFinal(
      this.deps,
      this.of$(taskId).pipe(filter((outcome) => outcome.taskId === taskId)),
      async () => {
        const row = await readRow(this.deps, taskId);
        if (row === "retry") return undefined;
        if (row === undefined || !this.owns(row))
          throw new UnderwayError(`no task with id ${taskId} in queue ${this.queue}`);
        return toOutcome(row, this.decodeOutput);
      },
      pollIntervalMs,
    );
  }

  /** The output of a task that succeeded; `TaskFailedError` if it failed or was cancelled. */
  async result(taskId: string): Promise<O> {
    const outcome = await this.final(taskId);
    if (outcome._tag === "succeeded") return outcome.output;
    throw new TaskFailedError(taskId, outcome._tag, outcome._tag === "failed" ? outcome.error : null);
  }
}
