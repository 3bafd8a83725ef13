import * as E from "fp-ts/lib/Either.js";
import type pg from "pg";
import { messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Claimed, Completions } from "./completions.ts";
import type { DbError } from "../errors.ts";
import type { TaskEvents } from "../events/taskEvents.ts";
import type { ClaimedRow } from "../db/claimQueries.ts";
import type { Store } from "../db/store.ts";

/** What a claim round needs. */
export interface ClaimDeps {
  readonly store: Store;
  readonly pool: pg.Pool;
  readonly queue: string;
  readonly workerId: string;
  /** This worker's key in queue_waiter (several workers of a client share workerId). */
  readonly waiterId: string;
  readonly log: Logger;
  readonly pollIntervalMs: number;
  /** The scheduler's clock: how long the claim took, for the next-due look-back. */
  readonly now: () => number;
  /**
   * Sends the claim with a write of successes under way (one statement);
   * undefined when there is none, and the round claims by itself.
   */
  readonly claimWith: Completions["claimWith"];
  /** Lifecycle events (src/events): each claim's duration. */
  readonly events: TaskEvents;
  /** Which statement this worker's lone claims send (see {@link claimRoute}); one per run. */
  readonly route: ClaimRoute;
}

/**
 * Which statement a worker's lone claim sends. A queue without flow control
 * is claimed by one prepared statement (tasksClaimPlain), which costs an
 * idle worker less than the function task_claim; when that statement finds
 * flow control (a pause, a rate limit, grouped tasks), the claim goes
 * through the function, and keeps to it for `flowRecheckMs` before trying
 * the statement again, so a flow-controlled queue pays one statement per
 * claim, not two. Mutable, one per worker run.
 */
export interface ClaimRoute {
  /** When the statement last found flow control (the scheduler's clock), or null. */
  flowSeenAt: number | null;
}

/** A route that starts on the plain statement. */
export const claimRoute = (): ClaimRoute => ({ flowSeenAt: null });

// How long a queue found flow-controlled is claimed through the function
// before the plain statement is tried again: flow control set at run time
// (a pause, a rate limit, a first grouped task) is seen at the next claim
// either way; this only bounds how often the statement is tried in vain.
const flowRecheckMs = 5_000;

// Added to the time since a claim started when reading the next due time:
// covers the gap between the two statements' clocks on a busy machine.
const lookBackMarginMs = 100;

/**
 * Asks inserts into the queue to NOTIFY this worker (queue_waiter), or
 * refreshes the registration's expiry; true when written. An idle worker
 * registers; a busy one finds work by claiming as it finishes and
 * unregisters, so a busy queue's inserts notify no one. Whether it was
 * registered before is the worker's state (./workerState.ts).
 */
export const registerWaiter = async (deps: ClaimDeps): Promise<boolean> => {
  const ttl = Math.max(3 * deps.pollIntervalMs, 60_000);
  const { store, pool, queue, waiterId } = deps;
  return E.isRight(await store.queueWaitersUpsert(pool, { queue, workerId: waiterId, ttlMs: ttl })());
};

/** Deletes this worker's NOTIFY registration. */
export const unregisterWaiter = async (deps: ClaimDeps): Promise<void> => {
  const { store, pool, queue, waiterId } = deps;
  await store.queueWaitersDelete(pool, { queue, workerId: waiterId })();
};

/**
 * One claim statement: up to `want` tasks, of which keyed tasks past the
 * first `startable` (slots free now) are claimed without taking their
 * key's slot (see ./admit.ts). Both are asked when the statement goes out
 * (it may ride with a write of successes, which frees room meanwhile); a
 * failure is logged and Left.
 */
export const claimBatch = async (
  deps: ClaimDeps,
  want: () => number,
  startable: () => number,
): Promise<E.Either<DbError, Claimed>> => {
  const { store, pool, queue, workerId, log } = deps;
  const timed = performance.now();
  const claim = async (): Promise<E.Either<DbError, Claimed>> => {
    const wanted = want();
    if (wanted <= 0) return E.right({ rows: [], wanted });
    const params = { queue, limit: wanted, workerId, startable: startable() };
    const { route } = deps;
    if (route.flowSeenAt === null || deps.now() - route.flowSeenAt >= flowRecheckMs) {
      const plain = await store.tasksClaimPlain(pool, params)();
      if (E.isLeft(plain)) return plain;
      if (plain.right.plain) {
        route.flowSeenAt = null;
        return E.right({ rows: plain.right.rows, wanted });
      }
      route.flowSeenAt = deps.now();
    }
    const rows = await store.tasksClaim(pool, params)();
    return E.map((claimed: ReadonlyArray<ClaimedRow>) => ({ rows: claimed, wanted }))(rows);
  };
  const result = await (deps.claimWith({ queue, workerId, want, startable }) ?? claim());
  deps.events.claimed(queue, E.isRight(result) ? result.right.rows.length : 0, performance.now() - timed);
  if (E.isLeft(result))
    log.warn("claim failed; will retry on the next wake-up", { error: messageOf(result.left.cause) });
  return result;
};

/**
 * In how many ms the queue's next task falls due (null: none, or unknown),
 * read after a claim that found fewer than wanted, so delayed tasks start on
 * time rather than at the next poll. `since` is when that claim started.
 */
export const nextDueIn = async (deps: ClaimDeps, since: number): Promise<number | null> => {
  const sinceClaimMs = Math.max(0, deps.now() - since);
  const due = await deps.store.tasksNextDue(deps.pool, {
    queue: deps.queue,
    lookBackMs: Math.ceil(sinceClaimMs) + lookBackMarginMs,
  })();
  if (E.isRight(due)) return due.right;
  deps.log.warn("could not read the next due time; delayed tasks wait for the poll", {
    error: messageOf(due.left.cause),
  });
  return null;
};
