import { Observable, type MonoTypeOperatorFunction } from "rxjs";

/** @internal Options of {@link yieldingBuffer}. */
export interface YieldingBufferOptions {
  /** Longest a drain runs before it yields to the event loop. Default 5 ms. */
  readonly sliceMs?: number;
  /** Called once each time the backlog grows past `warnAt` (default 10,000). */
  readonly onBacklog?: (size: number) => void;
  readonly warnAt?: number;
  /**
   * Whether a value may go to a subscriber that keeps up inside the
   * emitter's call (default true). False always delivers from setImmediate,
   * so the emitter never runs subscriber code (a worker's lifecycle events).
   */
  readonly immediate?: boolean;
}

/**
 * @internal Hands values to the subscriber at once while it keeps up (at
 * most `sliceMs` of its time per event-loop turn); past that, from a buffer,
 * in slices of at most `sliceMs`, yielding to the event loop between slices
 * (setImmediate); with `immediate: false`, always from the buffer.
 * A slow synchronous subscriber then delays only itself: the LISTEN
 * connection's socket is read and its liveness query answered meanwhile, so
 * nothing is dropped. Lossless and unbounded: a subscriber slower than the
 * outcome rate for good grows the buffer, and `onBacklog` says so.
 */
export const yieldingBuffer =
  <T>(options: YieldingBufferOptions = {}): MonoTypeOperatorFunction<T> =>
  (source) =>
    new Observable<T>((subscriber) => {
      const sliceMs = options.sliceMs ?? 5;
      const warnAt = options.warnAt ?? 10_000;
      const immediate = options.immediate ?? true;
      let buffer: T[] = [];
      let head = 0;
      let scheduled: NodeJS.Immediate | undefined;
      let completed = false;
      let warned = false;
      // Time the subscriber took in this event-loop turn, reset by the next turn.
      let spent = 0;
      let reset: NodeJS.Immediate | undefined;
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
      const schedule = () => {
        scheduled ??= setImmediate(drain);
      };
      const subscription = source.subscribe({
        next: (value) => {
          if (immediate && head >= buffer.length && scheduled === undefined && spent < sliceMs) {
            const started = performance.now();
            subscriber.next(value);
            spent += performance.now() - started;
            reset ??= setImmediate(() => {
              spent = 0;
              reset = undefined;
            });
            return;
          }
          buffer.push(value);
          const backlog = buffer.length - head;
          if (!warned && backlog > warnAt) {
            warned = true;
            options.onBacklog?.(backlog);
          }
          schedule();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          completed = true;
          schedule();
        },
      });
      return () => {
        subscription.unsubscribe();
        if (scheduled !== undefined) clearImmediate(scheduled);
        if (reset !== undefined) clearImmediate(reset);
      };
    });
