import { exhaustMap, merge, tap, type Observable, type SchedulerLike } from "rxjs";
import { abortTask } from "./execute.ts";
import { fromTask } from "./fromTask.ts";
import { renewalTick$, renewLeases, type LeaseDeps } from "./lease.ts";
import type { LocalTasks } from "./localTasks.ts";

/** What keeping held tasks' leases and hearing their cancels needs. */
export interface UpkeepDeps extends LeaseDeps {
  /** The schema whose `<schema>.cancel` channel carries cancel requests. */
  readonly schema: string;
  /** The LISTEN side: cancel requests arrive on `<schema>.cancel`. */
  readonly listener: { channel$(channel: string): Observable<string> };
  /** How often leases are checked for renewal (a worker's `heartbeatTickMs`). */
  readonly heartbeatTickMs: number;
  readonly scheduler: SchedulerLike;
}

/**
 * What a worker, runOnce and drain do for the tasks they hold while they
 * run them, for effect only: renew leases on the renewal tick (which
 * follows the shortest lease announced on `leases$`, ./lease.ts), with
 * `exhaustMap` so a slow database skips ticks rather than stacking
 * renewals; fire a task's signal when a renewal finds its lease lost or its
 * cancel requested (`applyRenewal`), or when its cancel is announced by
 * NOTIFY. Every timer is on `deps.scheduler`.
 */
export const upkeep$ = (
  deps: UpkeepDeps,
  tasks: LocalTasks,
  leases$: Observable<number>,
): Observable<unknown> =>
  merge(
    renewalTick$(leases$, deps.heartbeatTickMs, deps.scheduler).pipe(
      exhaustMap(() => fromTask(() => renewLeases(deps, tasks, deps.scheduler.now()))),
    ),
    deps.listener.channel$(`${deps.schema}.cancel`).pipe(
      tap((id) => {
        const task = tasks.get(id);
        if (task !== undefined) abortTask(task, "cancelled");
      }),
    ),
  );
