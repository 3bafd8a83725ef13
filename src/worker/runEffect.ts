import * as E from "fp-ts/lib/Either.js";
import { EMPTY, filter, ignoreElements, map, type Observable } from "rxjs";
import type { ClaimedRow } from "../db/claimQueries.ts";
import { claimBatch, nextDueIn, registerWaiter, unregisterWaiter, type ClaimDeps } from "./claim.ts";
import type { Completions } from "./completions.ts";
import { stopTask } from "./execute.ts";
import { fromTask } from "./fromTask.ts";
import { releaseTasks, type LeaseDeps } from "./lease.ts";
import type { HeldTask, LocalTasks } from "./localTasks.ts";
import type { WorkerEffect, WorkerEvent } from "./workerState.ts";

/** An event of one worker's state machine (./workerState.ts), over its rows and tasks. */
export type LoopEvent = WorkerEvent<ClaimedRow, HeldTask>;

/** An effect of one worker's state machine (./workerState.ts). */
export type LoopEffect = WorkerEffect<ClaimedRow, HeldTask>;

/** What the effects run on. */
export interface EffectDeps {
  readonly claim: ClaimDeps;
  readonly lease: LeaseDeps;
  readonly completions: Pick<Completions, "idle">;
  readonly tasks: LocalTasks;
  /** How many to claim, and how many of them start at once: asked when the statement goes out. */
  readonly want: () => number;
  readonly startable: () => number;
}

/**
 * Runs one effect of the worker's state machine: the statement or the
 * action it names, as an Observable of the events its result means (none
 * for the fire-and-forget ones). The effects that are streams (hold, armDue,
 * closeIntake, complete) are wired in ./work.ts and give EMPTY here.
 */
export const runEffect =
  (deps: EffectDeps) =>
  (effect: LoopEffect): Observable<LoopEvent> => {
    switch (effect.kind) {
      case "claim":
        return fromTask(() => claimBatch(deps.claim, deps.want, deps.startable)).pipe(
          map((result): LoopEvent =>
            E.isRight(result)
              ? { type: "claimed", rows: result.right.rows, wanted: result.right.wanted }
              : { type: "claimFailed" },
          ),
        );
      case "register":
        return fromTask(() => registerWaiter(deps.claim)).pipe(
          map((ok): LoopEvent => ({ type: "registered", ok })),
        );
      case "unregister":
        return fromTask(() => unregisterWaiter(deps.claim)).pipe(
          map((): LoopEvent => ({ type: "unregistered" })),
        );
      case "readDue":
        return fromTask(() => nextDueIn(deps.claim, effect.since)).pipe(
          filter((ms): ms is number => ms !== null),
          map((ms): LoopEvent => ({ type: "dueIn", ms })),
        );
      case "giveBack":
        return fromTask(() => releaseTasks(deps.lease, effect.tasks)).pipe(ignoreElements());
      case "release":
        // Part of the stop, which waits for it: the tasks are back before
        // the worker completes (and before the pool can be ended).
        return fromTask(() =>
          releaseTasks(
            deps.lease,
            effect.rows.map((row) => ({ row })),
          ),
        ).pipe(map((): LoopEvent => ({ type: "released" })));
      case "giveBackUnstarted":
        return fromTask(() => releaseTasks(deps.lease, deps.tasks.takeUnstarted())).pipe(
          map((): LoopEvent => ({ type: "givenBack" })),
        );
      case "abortRunning":
        // The shutdown rule shared with runOnce and drain (./execute.ts).
        for (const task of deps.tasks.all()) stopTask(task);
        return EMPTY;
      case "awaitWrites":
        return fromTask(() => deps.completions.idle()).pipe(map((): LoopEvent => ({ type: "writesIdle" })));
      default:
        // hold, armDue, closeIntake and complete are streams of work$ (./work.ts).
        return EMPTY;
    }
  };
