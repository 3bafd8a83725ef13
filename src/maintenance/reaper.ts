import * as E from "fp-ts/lib/Either.js";
import type pg from "pg";
import { BehaviorSubject, map, type SchedulerLike, type Subscription } from "rxjs";
import { messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { TaskEvents } from "../events/taskEvents.ts";
import type { Store } from "../db/store.ts";
import { fromTask } from "../worker/fromTask.ts";
import { sweep$ } from "./sweep.ts";

/** What the reaper needs. */
export interface ReaperDeps {
  readonly store: Store;
  readonly pool: () => pg.Pool;
  readonly log: Logger;
  /** Lifecycle events (src/events): tasks reaped, by queue. */
  readonly events: TaskEvents;
}

// Expired leases returned per statement; the next run takes the rest.
const batchSize = 500;

/** Returns expired leases to pending (or fails them), once. */
export const reapOnce = async (deps: ReaperDeps): Promise<void> => {
  const result = await deps.store.tasksReap(deps.pool(), { limit: batchSize })();
  if (E.isRight(result)) deps.events.reaped(result.right);
  if (E.isLeft(result)) {
    deps.log.warn("reaping expired leases failed", { error: messageOf(result.left.cause) });
  } else if (result.right.length > 0) {
    deps.log.warn("returned tasks with expired leases", { count: result.right.length });
  }
};

/**
 * The lease reaper of one client: one sweep however many workers and queues
 * it runs (the reap statement covers every queue), while at least one
 * worker asks for it, at the shortest interval asked for.
 */
export class Reaper {
  private readonly intervals = new BehaviorSubject<ReadonlyArray<number>>([]);
  private running: Subscription | undefined;

  constructor(private readonly deps: ReaperDeps) {}

  /** A worker wants expired leases reaped every `intervalMs` while it runs; call the result when it stops. */
  request(intervalMs: number, scheduler: SchedulerLike): () => void {
    this.intervals.next([...this.intervals.value, intervalMs]);
    // The first request's scheduler drives the sweep (tests on virtual time use one).
    this.running ??= sweep$(this.intervals.pipe(map((all) => Math.min(...all))), scheduler, () =>
      fromTask(() => reapOnce(this.deps)),
    ).subscribe();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const rest = [...this.intervals.value];
      rest.splice(rest.indexOf(intervalMs), 1);
      this.intervals.next(rest);
      if (rest.length === 0) {
        this.running?.unsubscribe();
        this.running = undefined;
      }
    };
  }
}
