import { Subject, filter, mergeMap, scan, share, tap, type Observable } from "rxjs";
import {
  initialState,
  transition,
  type Snapshot,
  type Step,
  type WorkerEffect,
  type WorkerEvent,
  type WorkerLimits,
  type WorkerState,
} from "./workerState.ts";

/** The worker's state machine as a stream (see {@link workerLoop}). */
export interface WorkerLoop<R, T> {
  /**
   * Every effect the transitions ask for, in order, shared: subscribe
   * before the first event, and run each kind where it belongs.
   */
  readonly effects$: Observable<WorkerEffect<R, T>>;
  /** The state after the last event, for what is asked between events (how many to claim, may a task start). */
  readonly state: () => WorkerState;
  /** Feeds an event in: the sources' and the effects' results, mapped to events. */
  readonly dispatch: (event: WorkerEvent<R, T>) => void;
}

/**
 * Runs the machine of ./workerState.ts over the events dispatched: a `scan`
 * of `transition`, the snapshot (time and tasks held) read as each event
 * arrives. The one Subject closes the loop (effects' results come back as
 * events); effects never dispatch synchronously (they are I/O or timers),
 * and the state is kept before any subscriber sees a step, so a transition
 * always starts from the last state.
 */
export const workerLoop = <R, T>(limits: WorkerLimits, snapshot: () => Snapshot): WorkerLoop<R, T> => {
  const events = new Subject<WorkerEvent<R, T>>();
  const start: Step<R, T> = { state: initialState(limits), effects: [] };
  let state = start.state;
  const effects$ = events.pipe(
    scan((last: Step<R, T>, event: WorkerEvent<R, T>) => transition(last.state, event, snapshot()), start),
    tap((next) => (state = next.state)),
    // Most events (a wake-up during a claim) ask for nothing: no inner subscription for them.
    filter((next) => next.effects.length > 0),
    mergeMap((next) => next.effects),
    share(),
  );
  return { effects$, state: () => state, dispatch: (event) => events.next(event) };
};
