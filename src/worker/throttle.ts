import { Observable, Subject, defer, mergeAll, mergeMap, type OperatorFunction } from "rxjs";

/** How the throttle reads an item's concurrency key and that key's limit. */
export interface KeyOf<T> {
  /** The item's concurrency key; null runs it under the global limit only. */
  readonly key: (item: T) => string | null;
  /** At most this many items of the key run at once here. */
  readonly limit: (item: T) => number;
}

interface KeyState<T> {
  active: number;
  readonly waiting: T[];
}

/**
 * Per concurrency key, lets at most the key's limit of items through until
 * `ended$` says one of them ended; the others wait in order, without
 * blocking items of other keys. Completes when the source has and nothing
 * waits. Keys with nothing running or waiting are forgotten, so many
 * one-off keys cost nothing once done.
 */
export const limitPerKey =
  <T>(keyOf: KeyOf<T>, ended$: Observable<T>): OperatorFunction<T, T> =>
  (source) =>
    new Observable<T>((subscriber) => {
      const keys = new Map<string, KeyState<T>>();
      let sourceDone = false;
      const waitingCount = (): number => [...keys.values()].reduce((n, k) => n + k.waiting.length, 0);
      const ended = ended$.subscribe((item) => {
        const key = keyOf.key(item);
        const state = key === null ? undefined : keys.get(key);
        if (key === null || state === undefined) return;
        state.active -= 1;
        const next = state.waiting.shift();
        if (next !== undefined) {
          state.active += 1;
          subscriber.next(next);
        } else if (state.active === 0) keys.delete(key);
        if (sourceDone && waitingCount() === 0) subscriber.complete();
      });
      const items = source.subscribe({
        next: (item) => {
          const key = keyOf.key(item);
          if (key === null) return subscriber.next(item);
          const state = keys.get(key) ?? { active: 0, waiting: [] };
          keys.set(key, state);
          if (state.active < Math.max(1, keyOf.limit(item))) {
            state.active += 1;
            subscriber.next(item);
          } else state.waiting.push(item);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          if (waitingCount() === 0) subscriber.complete();
        },
      });
      return () => {
        items.unsubscribe();
        ended.unsubscribe();
      };
    });

/**
 * Calls `done` once, when a two-phase run is over: after its second phase
 * (the inner Observable it emitted) ends, or when it ended without one, or
 * was unsubscribed. `handedOn` is called when the first phase emits the
 * second. A plain Observable rather than an operator chain, as it wraps
 * every task (see ./runTask.ts).
 */
export const afterBothPhases =
  <R>(done: () => void, handedOn: () => void = () => undefined) =>
  (run$: Observable<Observable<R>>): Observable<Observable<R>> =>
    new Observable<Observable<R>>((subscriber) => {
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        done();
      };
      let second = false;
      const first = run$.subscribe({
        next: (rest$) => {
          if (second) return;
          second = true;
          handedOn();
          subscriber.next(
            new Observable<R>((inner) => {
              const rest = rest$.subscribe(inner);
              return () => {
                rest.unsubscribe();
                end();
              };
            }),
          );
        },
        error: (error: unknown) => {
          if (!second) end();
          subscriber.error(error);
        },
        complete: () => {
          if (!second) end();
          subscriber.complete();
        },
      });
      return () => {
        first.unsubscribe();
        if (!second) end();
      };
    });

/**
 * The worker's throttle: per concurrency key at most its limit, across keys
 * at most `concurrency` at once, the rest in claim order. `run` is two
 * phases: the Observable it returns is the handler's (it holds a global
 * slot) and emits the second phase, the write of the verdict, which runs
 * outside the global limit so that the next handler starts while writes
 * are grouped (./completions.ts); a key's slot is held until both phases
 * end, since the database counts the task against its key until written.
 * In-process only: the database guard (the key's admission trigger) keeps
 * other processes from exceeding a key's limit.
 */
export const throttle =
  <T, R>(
    keyOf: KeyOf<T>,
    concurrency: number,
    run: (item: T) => Observable<Observable<R>>,
  ): OperatorFunction<T, R> =>
  (items$) =>
    defer(() => {
      const ended = new Subject<T>();
      return items$.pipe(
        limitPerKey(keyOf, ended),
        mergeMap((item) => run(item).pipe(afterBothPhases(() => ended.next(item))), concurrency),
        mergeAll(),
      );
    });
