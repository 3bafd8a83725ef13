/**
 * The worker's fetch side as one state machine: its modes, the events that
 * move it, and one pure `transition` returning the next state and the
 * effects to run. `work$` (./work.ts) turns NOTIFY, the timers, the stop
 * request and the results of effects into events and runs the effects; this
 * file decides. No I/O, no clock, no RxJS: every transition is a function of
 * the state, the event and a snapshot of the time and the tasks held.
 * docs/design/worker-state-machine.md draws it.
 *
 * Tasks are data, not events: a task ending changes the counts in the
 * snapshot (`Load`), and is an event only when it frees enough room to be
 * worth a claim (`woken`), so the hot path pays one comparison
 * per task, not a transition.
 */

/** The part of a claim round in flight: the claim, then the NOTIFY (un)registration. */
export type ClaimStep = "claim" | "register" | "unregister";

/** What the worker is doing. */
export type WorkerMode =
  /** No claim-side statement out: the next wake-up claims, if there is room. */
  | { readonly kind: "idle" }
  /**
   * The claim statement is out (since `since`, the scheduler's time).
   * `again`: a wake-up came meanwhile, or the batch came back full: claim
   * once more when this round ends, however many came.
   */
  | { readonly kind: "claiming"; readonly since: number; readonly again: boolean }
  /** The claim found nothing: asking inserts to NOTIFY this worker (queue_waiter). */
  | { readonly kind: "registering"; readonly since: number; readonly again: boolean }
  /** A full batch while registered: a busy worker needs no NOTIFY, so it unregisters, then claims again. */
  | { readonly kind: "unregistering"; readonly again: boolean }
  /** Stop asked while a statement of the claim side was out: it finishes, and its rows go back unstarted. */
  | { readonly kind: "stopping"; readonly awaiting: ClaimStep | "release" }
  /** Stopping: deleting this worker's NOTIFY registration. */
  | { readonly kind: "leaving" }
  /** Stopping: claimed but unstarted tasks go back to pending, no attempt spent. */
  | { readonly kind: "givingBack" }
  /** No more tasks come in: running handlers finish (after the grace period their signals fire). */
  | { readonly kind: "finishing" }
  /** Every handler is done: the last verdicts are being written. */
  | { readonly kind: "drainingWrites" }
  /** Done: the worker's stream completes. */
  | { readonly kind: "stopped" };

/**
 * Whether a claim takes prefetch: `full` claims up to `concurrency +
 * prefetch`; `holding` (since prefetched tasks went back unstarted, or a
 * prefetched task found its key full in another process or its rate budget
 * spent) claims only
 * what can start at once, for `prefetchHoldMs`, so a worker with long
 * handlers does not hoard tasks and keyed tasks do not bounce between
 * processes.
 */
export type Prefetch = { readonly kind: "full" } | { readonly kind: "holding"; readonly since: number };

/** The worker's limits (resolved work options). */
export interface WorkerLimits {
  readonly concurrency: number;
  readonly prefetch: number;
  readonly prefetchHoldMs: number;
}

/** The whole state: the mode and two flags beside it. */
export interface WorkerState {
  readonly mode: WorkerMode;
  /** Registered in queue_waiter: inserts into the queue NOTIFY this worker. */
  readonly registered: boolean;
  readonly prefetch: Prefetch;
  readonly limits: WorkerLimits;
}

/** The tasks held when an event arrives (kept by ./localTasks.ts, not by the machine: they change per task). */
export interface Load {
  /** Claimed and neither finished nor given back, started or not. */
  readonly held: number;
  /** Of those, the ones whose handler is done and whose verdict is being written: they hold no slot. */
  readonly writing: number;
}

/** When an event arrives, on the scheduler's clock, and what is held then. */
export interface Snapshot extends Load {
  readonly now: number;
}

/** What moves the machine. `R` is a claimed row, `T` a held task. */
export type WorkerEvent<R, T> =
  /** Tasks may be ready: NOTIFY, the poll, a reconnect, the due timer, or enough room freed (./wake.ts). */
  | { readonly type: "woken" }
  /** The claim statement came back: `rows`, of `wanted` asked for when it was sent. */
  | { readonly type: "claimed"; readonly rows: ReadonlyArray<R>; readonly wanted: number }
  /** The claim statement failed (logged): the next wake-up tries again. */
  | { readonly type: "claimFailed" }
  /** The NOTIFY registration was written (`ok`) or not. */
  | { readonly type: "registered"; readonly ok: boolean }
  | { readonly type: "unregistered" }
  /** A task of the queue falls due in `ms` (read after a claim, or a retry this worker wrote). */
  | { readonly type: "dueIn"; readonly ms: number }
  /** Prefetched tasks held unstarted past `prefetchHoldMs`, already taken out of the held tasks. */
  | { readonly type: "prefetchExpired"; readonly tasks: ReadonlyArray<T> }
  /**
   * The database refused to start a prefetched task: its concurrency key is
   * full in another process, or its rate budget is spent.
   */
  | { readonly type: "startRefused" }
  | { readonly type: "stopRequested" }
  /** Rows claimed during the stop went back to pending. */
  | { readonly type: "released" }
  /** Unstarted tasks went back to pending on the way out. */
  | { readonly type: "givenBack" }
  /** `shutdownGraceMs` after the stop request. */
  | { readonly type: "graceOver" }
  /** Every task handed in has ended (the throttle completed). */
  | { readonly type: "tasksDone" }
  /** Nothing left to write. */
  | { readonly type: "writesIdle" };

/** What the driver runs for a transition. */
export type WorkerEffect<R, T> =
  /** Send a claim; how many (`want`, `startable`) is read from the state when the statement goes out. */
  | { readonly kind: "claim" }
  /** Hold the rows claimed and hand them to the throttle. */
  | { readonly kind: "hold"; readonly rows: ReadonlyArray<R> }
  | { readonly kind: "register" }
  | { readonly kind: "unregister" }
  /** Read when the queue's next task falls due, looking back to the claim's start `since`. */
  | { readonly kind: "readDue"; readonly since: number }
  /** Arm the due timer (it keeps the earliest). */
  | { readonly kind: "armDue"; readonly ms: number }
  /** Give tasks back to pending, no attempt spent (fire and forget: a lost one waits out its lease). */
  | { readonly kind: "giveBack"; readonly tasks: ReadonlyArray<T> }
  /** Give rows claimed during the stop back; reports `released`. */
  | { readonly kind: "release"; readonly rows: ReadonlyArray<R> }
  /** Give every unstarted held task back; reports `givenBack`. */
  | { readonly kind: "giveBackUnstarted" }
  /** Fire the signals of running tasks (a cancelled one is abandoned: its lease lapses). */
  | { readonly kind: "abortRunning" }
  /** No more tasks will be handed to the throttle. */
  | { readonly kind: "closeIntake" }
  /** Wait for the writes under way; reports `writesIdle`. */
  | { readonly kind: "awaitWrites" }
  | { readonly kind: "complete" };

/** A transition's result. */
export interface Step<R, T> {
  readonly state: WorkerState;
  readonly effects: ReadonlyArray<WorkerEffect<R, T>>;
}

/** The state a worker starts in: idle, unregistered, prefetching. */
export const initialState = (limits: WorkerLimits): WorkerState => ({
  mode: { kind: "idle" },
  registered: false,
  prefetch: { kind: "full" },
  limits,
});

const none: ReadonlyArray<never> = [];

/** Whether the worker still claims (no stop asked). */
export const isRunning = (state: WorkerState): boolean =>
  state.mode.kind === "idle" ||
  state.mode.kind === "claiming" ||
  state.mode.kind === "registering" ||
  state.mode.kind === "unregistering";

/**
 * Whether a wake-up would change anything now: idle, or a claim round out
 * that has not been asked for another yet. Freed room wakes the worker up
 * to once per task ending; those the machine would drop are dropped
 * before they reach it, so a busy worker pays a mode check per task, not a
 * transition.
 */
export const heedsWake = (state: WorkerState): boolean => {
  const { mode } = state;
  if (mode.kind === "idle") return true;
  return (
    (mode.kind === "claiming" || mode.kind === "registering" || mode.kind === "unregistering") && !mode.again
  );
};

/** Prefetch on top of `concurrency` at `now`: none for `prefetchHoldMs` after a hold began. */
export const prefetchAt = (state: WorkerState, now: number): number =>
  state.prefetch.kind === "holding" && now - state.prefetch.since <= state.limits.prefetchHoldMs
    ? 0
    : state.limits.prefetch;

/**
 * Tasks to claim: room for running and prefetched tasks, not counting
 * those being written (a claim sent with their write replaces them); all
 * held tasks stay under twice that, should writes fall behind. None once
 * stopping.
 */
export const wantOf = (state: WorkerState, at: Snapshot): number => {
  if (!isRunning(state)) return 0;
  const room = state.limits.concurrency + prefetchAt(state, at.now);
  return Math.max(0, Math.min(room - (at.held - at.writing), 2 * room - at.held));
};

/**
 * Slots no held task will take: keyed tasks claimed for these start at
 * once; the rest of a batch (prefetch) takes no key slot until it starts.
 */
export const startableOf = (state: WorkerState, at: Load): number =>
  Math.max(0, state.limits.concurrency - (at.held - at.writing));

/**
 * Freed room worth a claim: half of what the worker may hold now (during a
 * prefetch hold half of `concurrency`, or it would claim only once empty).
 */
export const freedThreshold = (state: WorkerState, now: number): number =>
  Math.max(1, Math.floor((state.limits.concurrency + prefetchAt(state, now)) / 2));

const step = <R, T>(state: WorkerState, ...effects: WorkerEffect<R, T>[]): Step<R, T> => ({
  state,
  effects: effects.length === 0 ? none : effects,
});

const withMode = (state: WorkerState, mode: WorkerMode, registered = state.registered): WorkerState => ({
  ...state,
  mode,
  registered,
});

/** A round of the claim side is over: claim once more if asked and there is room, else idle. */
const roundOver = <R, T>(
  state: WorkerState,
  at: Snapshot,
  again: boolean,
  registered: boolean,
  ...effects: WorkerEffect<R, T>[]
): Step<R, T> =>
  again && wantOf(state, at) > 0
    ? step(withMode(state, { kind: "claiming", since: at.now, again: false }, registered), ...effects, {
        kind: "claim",
      })
    : step(withMode(state, { kind: "idle" }, registered), ...effects);

/** On the way out, after the claim side settled: unregister if registered, else give back at once. */
const leave = <R, T>(state: WorkerState, ...effects: WorkerEffect<R, T>[]): Step<R, T> =>
  state.registered
    ? step(withMode(state, { kind: "leaving" }, false), ...effects, { kind: "unregister" })
    : step(withMode(state, { kind: "givingBack" }), ...effects, { kind: "giveBackUnstarted" });

/** A claim came back while running. */
const claimed = <R, T>(
  state: WorkerState,
  mode: Extract<WorkerMode, { kind: "claiming" }>,
  rows: ReadonlyArray<R>,
  wanted: number,
  before: Snapshot,
): Step<R, T> => {
  const hold: WorkerEffect<R, T>[] = rows.length > 0 ? [{ kind: "hold", rows }] : [];
  // Whether to claim again counts the rows this round holds.
  const at = { ...before, held: before.held + rows.length };
  // Full by the time the claim went out: tasks ending wake the next one.
  if (wanted <= 0) return roundOver(state, at, mode.again, state.registered, ...hold);
  // Nothing ready: register for NOTIFY (again, to refresh its expiry).
  if (rows.length === 0)
    return step(withMode(state, { kind: "registering", since: mode.since, again: mode.again }), {
      kind: "register",
    });
  // A full batch: a backlog, claim again at once; a busy worker needs no NOTIFY.
  if (rows.length === wanted)
    return state.registered
      ? step(withMode(state, { kind: "unregistering", again: true }, false), ...hold, { kind: "unregister" })
      : roundOver(state, at, true, false, ...hold);
  // Fewer than wanted: read when the next one falls due, so it starts on time.
  return roundOver(state, at, mode.again, state.registered, ...hold, { kind: "readDue", since: mode.since });
};

/** The fetch side's mode changes while the worker runs (no stop asked). */
const running = <R, T>(state: WorkerState, event: WorkerEvent<R, T>, at: Snapshot): Step<R, T> => {
  const { mode } = state;
  switch (event.type) {
    case "woken":
      if (mode.kind === "idle")
        return wantOf(state, at) > 0
          ? step(withMode(state, { kind: "claiming", since: at.now, again: false }), { kind: "claim" })
          : step(state);
      // A claim-side statement is out: remember the wake-up, once.
      if (mode.kind === "claiming" || mode.kind === "registering" || mode.kind === "unregistering")
        return mode.again ? step(state) : step(withMode(state, { ...mode, again: true }));
      return step(state);
    case "claimed":
      return mode.kind === "claiming" ? claimed(state, mode, event.rows, event.wanted, at) : step(state);
    case "claimFailed":
      return mode.kind === "claiming" ? roundOver(state, at, mode.again, state.registered) : step(state);
    case "registered": {
      if (mode.kind !== "registering") return step(state);
      // A new registration may have raced an insert that did not see it: claim once more.
      const fresh = event.ok && !state.registered;
      return roundOver(state, at, mode.again || fresh, state.registered || event.ok, {
        kind: "readDue",
        since: mode.since,
      });
    }
    case "unregistered":
      return mode.kind === "unregistering" ? roundOver(state, at, mode.again, false) : step(state);
    case "stopRequested":
      // A statement of the claim side is out: let it finish first.
      if (mode.kind === "claiming") return step(withMode(state, { kind: "stopping", awaiting: "claim" }));
      if (mode.kind === "registering")
        return step(withMode(state, { kind: "stopping", awaiting: "register" }));
      if (mode.kind === "unregistering")
        return step(withMode(state, { kind: "stopping", awaiting: "unregister" }));
      return leave(state);
    default:
      return step(state);
  }
};

/** The way out, once a stop was asked. */
const stopping = <R, T>(state: WorkerState, event: WorkerEvent<R, T>): Step<R, T> => {
  const { mode } = state;
  switch (event.type) {
    case "claimed":
      if (mode.kind !== "stopping" || mode.awaiting !== "claim") return step(state);
      // Claimed as the stop came: back to pending before the worker completes.
      return event.rows.length > 0
        ? step(withMode(state, { kind: "stopping", awaiting: "release" }), {
            kind: "release",
            rows: event.rows,
          })
        : leave(state);
    case "claimFailed":
      return mode.kind === "stopping" && mode.awaiting === "claim" ? leave(state) : step(state);
    case "registered":
      return mode.kind === "stopping" && mode.awaiting === "register"
        ? leave({ ...state, registered: state.registered || event.ok })
        : step(state);
    case "unregistered":
      if (mode.kind === "stopping" && mode.awaiting === "unregister") return leave(state);
      return mode.kind === "leaving"
        ? step(withMode(state, { kind: "givingBack" }), { kind: "giveBackUnstarted" })
        : step(state);
    case "released":
      return mode.kind === "stopping" && mode.awaiting === "release" ? leave(state) : step(state);
    case "givenBack":
      return mode.kind === "givingBack"
        ? step(withMode(state, { kind: "finishing" }), { kind: "closeIntake" })
        : step(state);
    case "tasksDone":
      return mode.kind === "finishing"
        ? step(withMode(state, { kind: "drainingWrites" }), { kind: "awaitWrites" })
        : step(state);
    case "writesIdle":
      return mode.kind === "drainingWrites"
        ? step(withMode(state, { kind: "stopped" }), { kind: "complete" })
        : step(state);
    case "graceOver":
      return mode.kind === "stopped" ? step(state) : step(state, { kind: "abortRunning" });
    default:
      return step(state);
  }
};

/**
 * The one transition function: the next state and the effects to run, for
 * `event` arriving in `state` at `at`. Events that mean nothing in a mode
 * (a claim result after a stop moved on, a wake-up while stopping) leave
 * it as it is. Returns `state` itself when nothing changes.
 */
export const transition = <R, T>(state: WorkerState, event: WorkerEvent<R, T>, at: Snapshot): Step<R, T> => {
  // Events that act the same in every mode.
  switch (event.type) {
    case "prefetchExpired":
      return step(
        { ...state, prefetch: { kind: "holding", since: at.now } },
        {
          kind: "giveBack",
          tasks: event.tasks,
        },
      );
    case "startRefused": {
      const holding: WorkerState = { ...state, prefetch: { kind: "holding", since: at.now } };
      // The task went back to pending: read when it may start (a spent rate
      // budget's next start), so it is not left to the poll.
      return isRunning(state) ? step(holding, { kind: "readDue", since: at.now }) : step(holding);
    }
    case "dueIn":
      return isRunning(state) ? step(state, { kind: "armDue", ms: event.ms }) : step(state);
    default:
      return isRunning(state) ? running(state, event, at) : stopping(state, event);
  }
};
