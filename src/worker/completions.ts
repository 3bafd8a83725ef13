import * as TE from "fp-ts/TaskEither";
import * as E from "fp-ts/Either";
import { pipe } from "fp-ts/function";
import type { DbError } from "../errors.ts";
import { tasksComplete, type Queryable, type Sql } from "../queries.ts";
import { retryTransient } from "../retry.ts";

interface Pending {
  readonly id: string;
  readonly attempt: number;
  readonly output: string | null;
  readonly done: (written: E.Either<DbError, boolean>) => void;
}

/**
 * Group commit for successes: while one write is in flight, completions
 * queue up and go out together in the next statement. An idle worker writes
 * at once (no added latency); a busy one writes in batches of up to `max`.
 */
export class Completions {
  private queue: Pending[] = [];
  private writing = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly sql: Sql,
    private readonly db: Queryable,
    private readonly max = 500,
  ) {}

  /** Right if written; `false` when fenced off (no longer this attempt's). */
  complete(id: string, attempt: number, output: string | null): TE.TaskEither<DbError, boolean> {
    return () =>
      new Promise((done) => {
        this.queue.push({ id, attempt, output, done });
        void this.flush();
      });
  }

  /** Resolves when nothing is queued or being written. */
  idle(): Promise<void> {
    if (!this.writing && this.queue.length === 0) return Promise.resolve();
    return new Promise((done) => this.idleWaiters.push(done));
  }

  private async flush(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, this.max);
      this.queue = this.queue.slice(batch.length);
      const result = await pipe(
        tasksComplete(
          this.sql,
          this.db,
          batch.map((item) => item.id),
          batch.map((item) => item.attempt),
          batch.map((item) => item.output),
        ),
        retryTransient,
      )();
      const written = pipe(
        result,
        E.map((ids) => new Set(ids)),
      );
      for (const item of batch)
        item.done(
          pipe(
            written,
            E.map((ids) => ids.has(item.id)),
          ),
        );
    }
    this.writing = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
