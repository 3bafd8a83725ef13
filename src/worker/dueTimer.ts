import { Observable, type SchedulerLike, type Subscription } from "rxjs";

// The longest delay a timer takes (a longer Node timer fires after 1 ms).
// Nothing is lost by capping: every poll reads the next due time afresh.
const maxDelayMs = 2_147_483_647;

/**
 * Wakes when the earliest announced due time arrives, emitting that time.
 * `delays$` announces "something falls due in this many ms" (read from the
 * database clock, or known from a retry just written). One wake-up is armed
 * at a time: an earlier announcement re-arms it, a later one is dropped.
 * Dropped due times are not lost: the claim that follows a wake-up reads the
 * next due time again and announces it.
 */
export const dueTimer = (delays$: Observable<number>, scheduler: SchedulerLike): Observable<number> =>
  new Observable<number>((subscriber) => {
    let armed: { readonly at: number; readonly action: Subscription } | undefined;
    let sourceDone = false;
    const arm = (at: number): void => {
      armed?.action.unsubscribe();
      const action = scheduler.schedule(
        () => {
          armed = undefined;
          subscriber.next(at);
          if (sourceDone) subscriber.complete();
        },
        Math.max(0, at - scheduler.now()),
      );
      armed = { at, action };
    };
    const source = delays$.subscribe({
      next: (ms) => {
        if (Number.isNaN(ms)) return;
        const at = scheduler.now() + Math.min(Math.max(0, ms), maxDelayMs);
        if (armed === undefined || at < armed.at) arm(at);
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => {
        sourceDone = true;
        if (armed === undefined) subscriber.complete();
      },
    });
    return () => {
      source.unsubscribe();
      armed?.action.unsubscribe();
    };
  });
