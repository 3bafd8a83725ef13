import { Observable, Subscription, type OperatorFunction } from "rxjs";

/**
 * Runs `project` once per trigger, never two runs at once (as `exhaustMap`),
 * but a trigger that arrives during a run is remembered (once, however many
 * came) and starts one more run after it, as does a run whose result
 * `again` asks for. So wake-ups coalesce without one being lost. When the
 * source completes, the run in flight finishes and no other starts.
 */
export const coalesceMap =
  <T, R>(project: () => Observable<R>, again: (result: R) => boolean = () => false): OperatorFunction<T, R> =>
  (source) =>
    new Observable<R>((subscriber) => {
      const runs = new Subscription();
      let running = false;
      let pending = false;
      let sourceDone = false;
      const run = (): void => {
        running = true;
        pending = false;
        let repeat = false;
        runs.add(
          project().subscribe({
            next: (result) => {
              if (again(result)) repeat = true;
              subscriber.next(result);
            },
            error: (error: unknown) => subscriber.error(error),
            complete: () => {
              running = false;
              if (sourceDone) subscriber.complete();
              else if (pending || repeat) run();
            },
          }),
        );
      };
      runs.add(
        source.subscribe({
          next: () => {
            if (running) pending = true;
            else run();
          },
          error: (error: unknown) => subscriber.error(error),
          complete: () => {
            sourceDone = true;
            if (!running) subscriber.complete();
          },
        }),
      );
      return runs;
    });
