import { Observable, from } from "rxjs";
import { describeThrown } from "../describeThrown.ts";
import type { Outcome } from "../outcomes.ts";
import { attempt, type Handled } from "./attempt.ts";
import type { ExecuteDeps } from "./execute.ts";
import type { HeldTask } from "./localTasks.ts";

/**
 * A worker's task from the moment it has a slot: its attempt (./attempt.ts,
 * the pipeline runOnce and drain run too) as two phases (see ./throttle.ts):
 * the Observable returned runs the handler (admit, decode, timeout, encode)
 * and emits the second phase, the write of its verdict fenced by the
 * attempt. Only the first phase holds the global slot: the write is grouped
 * with others (./completions.ts) and must not keep the next task waiting.
 * A transactional handler's verdict is written in its own transaction,
 * inside its slot.
 * `canStart` is asked at the last moment: a task given back meanwhile
 * (shutdown, held too long) does not run. The second phase emits the
 * outcome, or `undefined` when nothing was written by this worker.
 *
 * Both phases are Observables over one promise each, not operator chains:
 * this runs once per task, and each operator is a subscriber and a
 * subscription more per task (see docs/performance.md).
 */
export const runTask = <I, O>(
  deps: ExecuteDeps<I, O>,
  task: HeldTask,
  canStart: () => boolean,
): Observable<Observable<Outcome<O> | undefined>> => {
  // A bug must cost one task (its lease expires and it runs again), never the worker.
  const contained = (thrown: unknown): undefined => {
    const error = describeThrown(thrown);
    deps.log.error("task pipeline threw; the task will run again when its lease expires", {
      taskId: task.row.id,
      error: error.stack ?? error.message,
    });
    return undefined;
  };
  const ended = (outcome$: Promise<Outcome<O> | undefined>): Observable<Outcome<O> | undefined> =>
    from(
      outcome$.catch(contained).then((outcome) => {
        deps.events.ended(deps.queue, task, outcome);
        return outcome;
      }),
    );
  // The handler's phase (./attempt.ts): resolves to the write under way,
  // or undefined when the task did not run.
  const handled = (): Promise<Handled<O> | undefined> =>
    canStart() ? attempt(deps, task) : Promise.resolve(undefined);
  return new Observable((subscriber) => {
    handled().then(
      (phase) => {
        if (phase !== undefined) subscriber.next(ended(phase.written));
        subscriber.complete();
      },
      (thrown: unknown) => {
        subscriber.next(ended(Promise.resolve(contained(thrown))));
        subscriber.complete();
      },
    );
  });
};
