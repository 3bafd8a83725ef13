import type { Outcome } from "../outcomes.ts";
import { admitTask } from "./admit.ts";
import { runAttempt, type ExecuteDeps } from "./execute.ts";
import type { HeldTask } from "./localTasks.ts";
import { recordAttempt } from "./record.ts";
import { runTransactionalAttempt } from "./transactionalAttempt.ts";

/**
 * An attempt whose handler is done: the write of its verdict, under way.
 * Boxed, because an async function would await a promise it returns.
 */
export interface Handled<O> {
  readonly written: Promise<Outcome<O> | undefined>;
}

/**
 * One attempt of a claimed task: the one pipeline a worker (./runTask.ts)
 * and runOnce/drain (./runOnce.ts) run. Admit (a prefetched keyed task
 * takes its key's slot only now, ./admit.ts) → decode → run the handler
 * under its timeout and signal → encode (./execute.ts, `runAttempt`) →
 * record, fenced by the attempt, successes through `deps.completer`
 * (./record.ts). A transactional handler's attempt writes its success in
 * its own transaction (./transactionalAttempt.ts).
 *
 * Resolves once the handler's part is over, with the write under way (the
 * part that holds a worker slot ends here; a transactional attempt's write
 * is already done, inside it), or undefined when the task did not start:
 * its key was full in another process and it went back to pending. Lease
 * renewal and cancel requests are the caller's (./upkeep.ts), for all its
 * tasks at once. Plain awaits over the Task and TaskEither steps, no
 * combinator chain: this runs once per task (see docs/performance.md).
 */
export const attempt = async <I, O>(
  deps: ExecuteDeps<I, O>,
  task: HeldTask,
): Promise<Handled<O> | undefined> => {
  task.started = true;
  if (!task.row.admitted && !(await admitTask(deps, task))) return undefined;
  if (deps.transactional(task.row)) {
    const outcome = await runTransactionalAttempt(deps, task)();
    return { written: Promise.resolve(outcome) };
  }
  const verdict = await runAttempt(deps)(task)();
  return { written: recordAttempt(deps, task)(verdict)() };
};
