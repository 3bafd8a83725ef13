import * as E from "fp-ts/lib/Either.js";
import type { DbError } from "../errors.ts";
import type { LeaseDeps } from "./lease.ts";
import type { HeldTask } from "./localTasks.ts";

interface Waiting {
  readonly task: HeldTask;
  readonly done: (admitted: E.Either<DbError, boolean>) => void;
}

/**
 * Starts prefetched tasks (keyed, or of a rate-limited queue) in groups:
 * the starts asked for in one turn of the event loop, and those asked for
 * while a statement is under way, go in one `tasksStart` statement. When
 * slots free up together (a batch of completions written), as many keyed
 * tasks start at once, and one round trip per task was what held a keyed
 * drain back (docs/performance.md).
 */
export class Admissions {
  private waiting: Waiting[] = [];
  private busy = false;

  /**
   * `refused` hears of each statement that left a task unstarted: its key
   * was full (another process runs it) or its rate budget spent.
   */
  constructor(
    private readonly deps: LeaseDeps,
    private readonly refused: () => void = () => undefined,
  ) {}

  /** Right(true) once the database admitted the task under its key's limit and its rate budget; Right(false) if not. */
  admit(task: HeldTask): Promise<E.Either<DbError, boolean>> {
    return new Promise((done) => {
      this.waiting.push({ task, done });
      if (!this.busy) {
        this.busy = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting;
      this.waiting = [];
      const result = await this.deps.store.tasksStart(this.deps.pool, {
        ids: batch.map((item) => item.task.row.id),
        attempts: batch.map((item) => item.task.row.attempt),
      })();
      const started = E.isRight(result) ? new Set(result.right) : undefined;
      // Once per statement: the worker holds prefetch and reads when the next start is allowed.
      if (started !== undefined && batch.some((item) => !started.has(item.task.row.id))) this.refused();
      for (const item of batch) {
        item.done(
          started === undefined ? (result as E.Left<DbError>) : E.right(started.has(item.task.row.id)),
        );
      }
    }
    this.busy = false;
  }
}
