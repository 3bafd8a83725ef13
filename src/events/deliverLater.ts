import { Observable, type MonoTypeOperatorFunction } from "rxjs";

/**
 * @internal Hands each value to the subscriber later, never inside the
 * emitter's call: values queue per subscriber and are delivered from
 * setImmediate, in slices of at most `sliceMs`, yielding to the event loop
 * between slices. A worker that emits therefore never runs its subscribers'
 * code, never waits for them, and is never slowed by one that falls behind
 * beyond the CPU its code takes. Lossless and unbounded; `onBacklog` is
 * called once each time the queue grows past `warnAt`.
 */
export const deliverLater =
  <T>(
    options: {
      readonly sliceMs?: number;
      readonly warnAt?: number;
      readonly onBacklog?: (size: number) => void;
    } = {},
  ): MonoTypeOperatorFunction<T> =>
  (source) =>
    new Observable<T>((subscriber) => {
      const sliceMs = options.sliceMs ?? 5;
      const warnAt = options.warnAt ?? 10_000;
      let buffer: T[] = [];
      let head = 0;
      let scheduled: NodeJS.Immediate | undefined;
      let completed = false;
      let warned = false;
      const drain = () => {
        scheduled = undefined;
        const until = performance.now() + sliceMs;
        while (head < buffer.length && !subscriber.closed) {
          const value = buffer[head] as T;
          head += 1;
          subscriber.next(value);
          if (performance.now() >= until) break;
        }
        if (head >= buffer.length) {
          buffer = [];
          head = 0;
          warned = false;
          if (completed) subscriber.complete();
        } else {
          scheduled = setImmediate(drain);
        }
      };
      const subscription = source.subscribe({
        next: (value) => {
          buffer.push(value);
          if (!warned && buffer.length - head > warnAt) {
            warned = true;
            options.onBacklog?.(buffer.length - head);
          }
          scheduled ??= setImmediate(drain);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          completed = true;
          scheduled ??= setImmediate(drain);
        },
      });
      return () => {
        subscription.unsubscribe();
        if (scheduled !== undefined) clearImmediate(scheduled);
      };
    });
