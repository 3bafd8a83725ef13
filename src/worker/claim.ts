import * as E from "fp-ts/lib/Either.js";
import type pg from "pg";
import { messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Claimed, Completions } from "./completions.ts";
import type { DbError } from "../errors.ts";
import type { TaskEvents } from "../events/taskEvents.ts";
import {
  queueWaitersDelete,
  queueWaitersUpsert,
  tasksClaim,
  tasksNextDue,
  type ClaimedRow,
} from "../db/claimQueries.ts";
import type { Sql } from "../db/query.ts";

/** What a claim round needs. */
export interface ClaimDeps {
  readonly sql: Sql;
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
}

/** What one claim round found. */
export interface ClaimRound {
  readonly rows: ReadonlyArray<ClaimedRow>;
  /** Claim again at once: a full batch (a backlog), or a fresh NOTIFY registration that may have raced an insert. */
  readonly again: boolean;
  /**
   * The queue's next task falls due in this many ms, read when fewer were
   * ready than wanted; a promise, so the claimed tasks start without waiting
   * for that second round trip.
   */
  readonly dueIn: Promise<number | null> | null;
}

// Added to the time since a claim started when reading the next due time:
// covers the gap between the two statements' clocks on a busy machine.
const lookBackMarginMs = 100;

/**
 * Whether this worker is registered in queue_waiter (inserts NOTIFY it).
 * An idle worker registers; a busy one finds work by claiming as it
 * finishes and unregisters, so a busy queue's inserts notify no one.
 */
export class Waiting {
  private registered = false;

  constructor(private readonly deps: ClaimDeps) {}

  /** Asks inserts to NOTIFY; true when this is a new registration. */
  async register(): Promise<boolean> {
    const ttl = Math.max(3 * this.deps.pollIntervalMs, 60_000);
    const { sql, pool, queue, waiterId } = this.deps;
    const result = await queueWaitersUpsert(sql, pool, { queue, workerId: waiterId, ttlMs: ttl })();
    const fresh = E.isRight(result) && !this.registered;
    if (E.isRight(result)) this.registered = true;
    return fresh;
  }

  async unregister(): Promise<void> {
    if (!this.registered) return;
    this.registered = false;
    const { sql, pool, queue, waiterId } = this.deps;
    await queueWaitersDelete(sql, pool, { queue, workerId: waiterId })();
  }
}

/**
 * One claim round: up to `want` tasks in one statement, of which keyed
 * tasks past the first `startable` (slots free now) are claimed without
 * taking their key's slot (see ./admit.ts); then, when fewer
 * were ready, the next due time (so delayed tasks start on time rather
 * than at the next poll) and, when none, a NOTIFY registration.
 */
export const claimRound = async (
  deps: ClaimDeps,
  waiting: Waiting,
  want: () => number,
  startable: () => number,
): Promise<ClaimRound> => {
  const { sql, pool, queue, workerId, log } = deps;
  const startedAt = deps.now();
  const timed = performance.now();
  const claim = async (): Promise<E.Either<DbError, Claimed>> => {
    const wanted = want();
    if (wanted <= 0) return E.right({ rows: [], wanted });
    const rows = await tasksClaim(sql, pool, { queue, limit: wanted, workerId, startable: startable() })();
    return E.map((claimed: ReadonlyArray<ClaimedRow>) => ({ rows: claimed, wanted }))(rows);
  };
  const result = await (deps.claimWith({ queue, workerId, want, startable }) ?? claim());
  deps.events.claimed(queue, E.isRight(result) ? result.right.rows.length : 0, performance.now() - timed);
  if (E.isLeft(result)) {
    log.warn("claim failed; will retry on the next wake-up", { error: messageOf(result.left.cause) });
    return { rows: [], again: false, dueIn: null };
  }
  const { rows, wanted } = result.right;
  // Full by the time the claim went out: tasks ending wake the next one.
  if (wanted <= 0) return { rows, again: false, dueIn: null };
  // Registering may race an insert that did not see us yet: claim once
  // more after a new registration, so nothing waits for the poll.
  let again = rows.length === wanted;
  if (rows.length === 0) again = await waiting.register();
  else if (rows.length === wanted) await waiting.unregister();
  if (rows.length === wanted) return { rows, again, dueIn: null };
  const sinceClaimMs = Math.max(0, deps.now() - startedAt);
  const dueIn = tasksNextDue(sql, pool, {
    queue,
    lookBackMs: Math.ceil(sinceClaimMs) + lookBackMarginMs,
  })().then((due) => {
    if (E.isRight(due)) return due.right;
    log.warn("could not read the next due time; delayed tasks wait for the poll", {
      error: messageOf(due.left.cause),
    });
    return null;
  });
  return { rows, again, dueIn };
};
