import { Observable, Subscription, type OperatorFunction, type SchedulerLike } from "rxjs";

/** How {@link mergeBatches} gathers items and runs their batches. */
export interface BatchLimits<T> {
  /** The most items in one batch. */
  readonly size: number;
  /** How long a batch waits for more items after its first, when fewer than `size` are there. */
  readonly waitMs: number;
  /** Batches running at once. */
  readonly concurrency: number;
  /** Items that left while they waited (their task was cancelled or timed out) are dropped, not batched. */
  readonly live: (item: T) => boolean;
}

interface Waiting<T> {
  readonly item: T;
  readonly at: number;
}

/**
 * `mergeMap` over batches: gathers the items into batches of up to
 * `size`, a batch leaving once it is full or `waitMs` after its first item
 * came, and runs at most `concurrency` of them at once (`run` returns the
 * batch's Observable). While every slot is taken, items keep gathering,
 * so the next free slot takes a full batch at once rather than the first
 * partial one formed: `bufferTime` with a batch size would close batches by
 * the clock alone and queue them behind busy slots half empty. Timers run
 * on `scheduler` (virtual time in tests). When the source completes, what
 * waits goes at once; completes when every batch has.
 */
export const mergeBatches =
  <T, R>(
    run: (batch: ReadonlyArray<T>) => Observable<R>,
    limits: BatchLimits<T>,
    scheduler: SchedulerLike,
  ): OperatorFunction<T, R> =>
  (source) =>
    new Observable<R>((subscriber) => {
      let waiting: Array<Waiting<T>> = [];
      let running = 0;
      let sourceDone = false;
      let pumping = false;
      let timer: Subscription | undefined;
      const runs = new Subscription();
      const { size, waitMs, concurrency, live } = limits;

      const startBatch = (): void => {
        waiting = waiting.filter((entry) => live(entry.item));
        const batch = waiting.splice(0, size).map((entry) => entry.item);
        running += 1;
        const holder = new Subscription();
        runs.add(holder);
        holder.add(
          run(batch).subscribe({
            next: (value) => subscriber.next(value),
            error: (error: unknown) => subscriber.error(error),
            complete: () => {
              running -= 1;
              runs.remove(holder);
              pump();
            },
          }),
        );
      };
      // Starts every batch that is due while there is a free slot; arms the
      // timer for the first one that is not due yet.
      // `arrived`: an item just came. A batch short of `size` then never
      // leaves at once, even with `waitMs` 0: it waits for the timer, so the
      // items handed in during the same turn go together.
      const pump = (arrived = false): void => {
        if (pumping) return;
        pumping = true;
        try {
          while (running < concurrency) {
            // Dead items at the head would date the batch; the rest go when it leaves.
            while (waiting[0] !== undefined && !live(waiting[0].item)) waiting.shift();
            const first = waiting[0];
            if (first === undefined) break;
            const dueIn = first.at + waitMs - scheduler.now();
            if (waiting.length < size && !sourceDone && (dueIn > 0 || arrived)) {
              timer ??= scheduler.schedule(
                () => {
                  timer = undefined;
                  pump();
                },
                Math.max(0, dueIn),
              );
              break;
            }
            timer?.unsubscribe();
            timer = undefined;
            startBatch();
          }
        } finally {
          pumping = false;
        }
        if (sourceDone && running === 0 && waiting.length === 0) subscriber.complete();
      };

      const items = source.subscribe({
        next: (item) => {
          waiting.push({ item, at: scheduler.now() });
          pump(true);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          pump();
        },
      });
      return () => {
        items.unsubscribe();
        timer?.unsubscribe();
        runs.unsubscribe();
      };
    });
