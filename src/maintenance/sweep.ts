import {
  EMPTY,
  distinctUntilChanged,
  exhaustMap,
  switchMap,
  timer,
  type Observable,
  type SchedulerLike,
} from "rxjs";

/**
 * Runs `run` at once and then every `intervalMs` (the latest emitted by
 * `intervals$`; Infinity pauses), never two runs at once: a run still going
 * when the next tick comes swallows that tick (`exhaustMap`), so a slow
 * database makes sweeps rarer instead of piling them up.
 */
export const sweep$ = <A>(
  intervals$: Observable<number>,
  scheduler: SchedulerLike,
  run: () => Observable<A>,
): Observable<A> =>
  intervals$.pipe(
    distinctUntilChanged(),
    switchMap((ms) => (Number.isFinite(ms) ? timer(0, ms, scheduler) : EMPTY)),
    exhaustMap(run),
  );
