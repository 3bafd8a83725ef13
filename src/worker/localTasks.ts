import type { ClaimedRow } from "../db/claimQueries.ts";
import type { RunningTask } from "./execute.ts";
import { TaskAbort } from "./taskAbort.ts";

/** A task this worker claimed, started or not. Times are the scheduler's. */
export interface HeldTask extends RunningTask {
  readonly claimedAt: number;
  renewedAt: number;
}

/**
 * The tasks one worker holds: claimed and not yet finished. One instance
 * per subscription of `work$`, so nothing outlives a run.
 */
export class LocalTasks {
  private readonly tasks = new Map<string, HeldTask>();
  // Held tasks whose handler is done and whose verdict is being written:
  // they hold no slot, and leave once written.
  private readonly writing = new Set<HeldTask>();

  hold(row: ClaimedRow, now: number): HeldTask {
    const task: HeldTask = {
      row,
      abort: new TaskAbort(),
      abandon: new TaskAbort(),
      started: false,
      claimedAt: now,
      renewedAt: now,
    };
    this.tasks.set(row.id, task);
    return task;
  }

  get(id: string): HeldTask | undefined {
    return this.tasks.get(id);
  }

  /** Whether `task` is still this worker's (not finished, not given back). */
  holds(task: HeldTask): boolean {
    return this.tasks.get(task.row.id) === task;
  }

  forget(task: HeldTask): void {
    if (this.holds(task)) this.tasks.delete(task.row.id);
  }

  get size(): number {
    return this.tasks.size;
  }

  /** Of the tasks held, how many are having their verdict written. */
  get writingCount(): number {
    return this.writing.size;
  }

  /** The task's handler is done; its verdict is being written. */
  handedOn(task: HeldTask): void {
    this.writing.add(task);
  }

  /**
   * The task's run is over: written, or never started. One that never
   * started (stopping) stays held, for the stop to give back to pending
   * with the other unstarted ones.
   */
  ended(task: HeldTask): void {
    this.writing.delete(task);
    if (task.started) this.forget(task);
  }

  all(): HeldTask[] {
    return [...this.tasks.values()];
  }

  /** Claimed, not started: forgotten here, for the caller to give back. */
  takeUnstarted(olderThan: (task: HeldTask) => boolean = () => true): HeldTask[] {
    const taken = this.all().filter((task) => !task.started && olderThan(task));
    for (const task of taken) this.tasks.delete(task.row.id);
    return taken;
  }

  /** Leases a third through (or more), due for renewal at `now`. */
  dueForRenewal(now: number): HeldTask[] {
    return this.all().filter((task) => now - task.renewedAt >= task.row.heartbeatMs / 3);
  }
}
