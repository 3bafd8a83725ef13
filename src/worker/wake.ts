import { merge, timer, defer, switchMap, filter, type Observable, type SchedulerLike } from "rxjs";
import { dueTimer } from "./dueTimer.ts";

/** Everything that may mean "tasks are ready to claim". */
export interface WakeSources {
  /** NOTIFY of inserts into this queue: a latency hint only. */
  readonly notified$: Observable<unknown>;
  /** Resolves once LISTEN is active (or known impossible): the first claim waits for it. */
  readonly listening: () => Promise<void>;
  /** The LISTEN connection came back: notifications may have been missed. */
  readonly reconnected$: Observable<unknown>;
  /** "A task of this queue falls due in this many ms." */
  readonly dueIn$: Observable<number>;
  /** A running task ended and enough capacity is free to be worth a claim. */
  readonly freed$: Observable<unknown>;
  readonly pollIntervalMs: number;
}

/**
 * The worker's wake-ups, merged: NOTIFY, the due timer (delayed tasks,
 * retries and later steps start on time), the fallback poll, reconnects
 * and freed capacity. Correctness never depends on NOTIFY: the poll and the
 * reconnect wake-up cover lost notifications. Bursts are coalesced by the
 * worker's state machine (a wake-up during a claim sets its `again` flag;
 * see ./workerState.ts), not here, so no wake-up is ever dropped.
 */
export const wake$ = (sources: WakeSources, scheduler: SchedulerLike): Observable<unknown> => {
  // Registering for NOTIFY before LISTEN is active would let an insert's
  // notification go unheard until the next poll: the poll (whose first
  // tick is the first claim) starts once LISTEN is. Deferred so that
  // notified$, merged first, has started the LISTEN.
  const poll$ = defer(() => sources.listening()).pipe(
    switchMap(() => timer(0, sources.pollIntervalMs, scheduler)),
  );
  return merge(
    sources.notified$,
    dueTimer(sources.dueIn$, scheduler),
    poll$,
    sources.reconnected$,
    sources.freed$,
  );
};

/**
 * Freed capacity wakes a claim only once at least `threshold` is free (or
 * nothing is held at all), so a busy worker claims in batches while held
 * tasks keep every slot busy, instead of one claim per completion.
 */
export const freedEnough$ = (
  ended$: Observable<unknown>,
  free: () => number,
  held: () => number,
  threshold: number | (() => number),
): Observable<unknown> =>
  ended$.pipe(
    filter(() => free() >= (typeof threshold === "number" ? threshold : threshold()) || held() === 0),
  );
