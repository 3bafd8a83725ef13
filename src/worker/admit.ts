import * as E from "fp-ts/lib/Either.js";
import { messageOf } from "../errors.ts";
import { releaseTasks, type LeaseDeps } from "./lease.ts";
import type { HeldTask } from "./localTasks.ts";
import type { Admissions } from "./admissions.ts";

/**
 * Starts a task that was claimed ahead of a free slot (keyed, or of a
 * rate-limited queue): the database admits it under its key's limit and
 * its rate budget across every process (task_key_admit, task_rate_admit),
 * or not, when other processes run the key to its limit or spend the
 * budget meanwhile; then it goes back to pending at once, no attempt
 * spent. True when admitted.
 */
export const admitTask = async (
  deps: LeaseDeps & { readonly admissions: Admissions },
  task: HeldTask,
): Promise<boolean> => {
  if (task.row.admitted) return true;
  const result = await deps.admissions.admit(task);
  if (E.isRight(result) && result.right) return true;
  if (E.isRight(result)) {
    deps.log.info(
      "a prefetched task's concurrency key is at its limit in another process, or its rate budget is spent; gave the task back",
      { taskId: task.row.id },
    );
  } else {
    deps.log.warn("could not start a prefetched keyed task; giving it back", {
      taskId: task.row.id,
      error: messageOf(result.left.cause),
    });
  }
  await releaseTasks(deps, [task]);
  return false;
};
