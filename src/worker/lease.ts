import * as E from "fp-ts/lib/Either.js";
import type pg from "pg";
import {
  distinctUntilChanged,
  map,
  scan,
  startWith,
  switchMap,
  timer,
  type Observable,
  type SchedulerLike,
} from "rxjs";
import { messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../db/store.ts";
import { applyRenewal } from "./execute.ts";
import type { HeldTask, LocalTasks } from "./localTasks.ts";

// A lease is renewed at a third of its length; ticking at least four times
// per lease keeps a renewal due at most 7/12 of the lease after the last.
const ticksPerLease = 4;

/**
 * The renewal tick. It follows the shortest lease seen, so a short lease is
 * renewed several times within its length whatever `tickMs` says.
 */
export const renewalTick$ = (
  leases$: Observable<number>,
  tickMs: number,
  scheduler: SchedulerLike,
): Observable<number> =>
  leases$.pipe(
    scan((shortest, lease) => Math.min(shortest, lease), Number.POSITIVE_INFINITY),
    map((shortest) => Math.max(10, Math.min(tickMs, Math.floor(shortest / ticksPerLease)))),
    startWith(tickMs),
    distinctUntilChanged(),
    switchMap((tick) => timer(tick, tick, scheduler)),
  );

/** What writing leases needs. */
export interface LeaseDeps {
  readonly store: Store;
  readonly pool: pg.Pool;
  readonly log: Logger;
}

/**
 * Renews the leases that are a third through; aborts tasks whose lease was
 * lost. Never waits on a row lock: a locked row is left for the next tick.
 */
export const renewLeases = async (deps: LeaseDeps, tasks: LocalTasks, now: number): Promise<void> => {
  const due = tasks.dueForRenewal(now);
  if (due.length === 0) return;
  const result = await deps.store.tasksHeartbeat(deps.pool, {
    ids: due.map((task) => task.row.id),
    attempts: due.map((task) => task.row.attempt),
  })();
  if (E.isLeft(result)) {
    deps.log.warn("heartbeat failed; retrying on the next tick", { error: messageOf(result.left.cause) });
    return;
  }
  const ours = new Map(result.right.map((row) => [row.id, row]));
  const skipped: string[] = [];
  for (const task of due) {
    const row = ours.get(task.row.id);
    // A task that ended meanwhile is no longer this worker's concern.
    if (!tasks.holds(task) || !applyRenewal(task, row)) continue;
    // A row locked by another session is still ours: it stays due, so the
    // next tick (a quarter lease or less away) tries it again.
    if (row?.renewed === true) task.renewedAt = now;
    else skipped.push(task.row.id);
  }
  if (skipped.length > 0)
    deps.log.info("lease renewal skipped rows locked by another session; retrying on the next tick", {
      taskIds: skipped,
    });
};

/** Gives claimed, unstarted tasks back to pending as if never claimed (no attempt spent). */
export const releaseTasks = async (
  deps: LeaseDeps,
  given: ReadonlyArray<Pick<HeldTask, "row">>,
): Promise<void> => {
  if (given.length === 0) return;
  const result = await deps.store.tasksRelease(deps.pool, {
    ids: given.map((task) => task.row.id),
    attempts: given.map((task) => task.row.attempt),
  })();
  if (E.isLeft(result)) {
    deps.log.warn("could not return unstarted tasks; they run again when their lease expires", {
      error: messageOf(result.left.cause),
    });
  }
};
