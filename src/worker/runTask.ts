import { EMPTY, Observable, catchError, defer, mergeMap, of, tap } from "rxjs";
import { describeThrown } from "../describeThrown.ts";
import type { Outcome } from "../outcomes.ts";
import { runAttempt, type ExecuteDeps } from "./execute.ts";
import { recordAttempt } from "./record.ts";
import { admitTask } from "./admit.ts";
import { fromTask } from "./fromTask.ts";
import type { HeldTask } from "./localTasks.ts";
import { runTransactionalAttempt } from "./transactionalAttempt.ts";

/**
 * The execute and record stages of one task, from the moment it has a slot:
 * run the handler (decode, timeout, encode), then write its verdict fenced
 * by the attempt. Only the handler holds the slot: the write is grouped
 * with others (./completions.ts) and must not keep the next task waiting.
 * A transactional handler's verdict is written in its own transaction,
 * inside its slot. A keyed task claimed ahead of a free slot is admitted
 * under its key's limit first (./admit.ts). `canStart` is asked at the last moment: a task given
 * back meanwhile (shutdown, held too long) does not run. Emits the outcome,
 * or `undefined` when nothing was written by this worker.
 */
export const runTask = <I, O>(
  deps: ExecuteDeps<I, O>,
  task: HeldTask,
  canStart: () => boolean,
): Observable<Outcome<O> | undefined> =>
  defer(() => {
    if (!canStart()) return EMPTY;
    task.started = true;
    const attempt$ =
      deps.transactional?.(task.row) === true
        ? fromTask(runTransactionalAttempt(deps, task))
        : fromTask(runAttempt(deps)(task)).pipe(
            mergeMap((verdict) => fromTask(recordAttempt(deps, task)(verdict))),
          );
    // A prefetched keyed task takes its key's slot only now.
    return task.row.admitted
      ? attempt$
      : fromTask(() => admitTask(deps, task)).pipe(mergeMap((admitted) => (admitted ? attempt$ : EMPTY)));
  }).pipe(
    // A bug must cost one task (its lease expires and it runs again), never the worker.
    catchError((thrown: unknown) => {
      const error = describeThrown(thrown);
      deps.log.error("task pipeline threw; the task will run again when its lease expires", {
        taskId: task.row.id,
        error: error.stack ?? error.message,
      });
      return of(undefined);
    }),
    tap((outcome) => deps.events.ended(deps.queue, task, outcome)),
  );
