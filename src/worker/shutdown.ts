import {
  endWith,
  exhaustMap,
  ignoreElements,
  merge,
  share,
  take,
  takeUntil,
  timer,
  type Observable,
  type SchedulerLike,
} from "rxjs";

/**
 * Emits once, `graceMs` after the first stop request: the moment running
 * handlers have had their grace period and their signals fire.
 */
export const graceOver$ = (
  stopped$: Observable<unknown>,
  graceMs: number,
  scheduler: SchedulerLike,
): Observable<number> =>
  stopped$.pipe(
    take(1),
    exhaustMap(() => timer(graceMs, scheduler)),
  );

/**
 * `main$`'s values, with `sides$` (timers, renewals, cancellations) running
 * beside it for effect only, until `main$` completes: the pipeline is done
 * when its tasks are, not when its tickers are.
 */
export const alongside = <A>(main$: Observable<A>, sides$: Observable<unknown>): Observable<A> => {
  const shared$ = main$.pipe(share());
  return merge(
    shared$,
    sides$.pipe(ignoreElements(), takeUntil(shared$.pipe(ignoreElements(), endWith(null)))),
  );
};
