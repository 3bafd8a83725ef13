import { Observable, Subscriber, type Observer, type Operator, type Subscription } from "rxjs";
import { messageOf } from "./errors.ts";
import type { Logger } from "./log.ts";

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";

// Which callback threw; "unhandled": an error reached a subscriber without an error callback.
type Handler = "next" | "error" | "complete" | "unhandled";

/**
 * rxjs reports what a subscriber's callback throws from a setTimeout
 * (reportUnhandledError): an uncaught exception that ends the process, with
 * a worker's tasks left `in_progress` until their leases expire. Its hook,
 * `config.onUnhandledError`, is global to the application, so the stream
 * guards its subscribers instead: each callback runs in a try/catch, a
 * throw is logged and delivery goes on. Operators lift through `lift`, so
 * what is piped from a guarded stream with rxjs's operators is guarded too.
 */
class GuardedObservable<T> extends Observable<T> {
  constructor(
    private readonly report: (handler: Handler, error: unknown) => void,
    subscribe?: (subscriber: Subscriber<T>) => Subscription | (() => void) | void,
  ) {
    super(subscribe);
  }

  override lift<R>(operator?: Operator<T, R>): Observable<R> {
    const observable = new GuardedObservable<R>(this.report);
    // What Observable.lift does, keeping the class (rxjs 7 lifts this way).
    observable.source = this;
    observable.operator = operator;
    return observable;
  }

  override subscribe(
    observerOrNext?: Partial<Observer<T>> | ((value: T) => void) | null,
    error?: ((error: unknown) => void) | null,
    complete?: (() => void) | null,
  ): Subscription {
    // A Subscriber is rxjs's own (an operator, firstValueFrom): passed as is,
    // so its teardown stays linked; the user's callbacks are guarded where
    // they are given.
    if (observerOrNext instanceof Subscriber) return super.subscribe(observerOrNext);
    const observer: Partial<Observer<T>> =
      typeof observerOrNext === "function" || observerOrNext === null || observerOrNext === undefined
        ? {
            ...(observerOrNext === null || observerOrNext === undefined ? {} : { next: observerOrNext }),
            ...(error === null || error === undefined ? {} : { error }),
            ...(complete === null || complete === undefined ? {} : { complete }),
          }
        : observerOrNext;
    // An async callback's rejection would be an unhandled rejection (the
    // process ends, as a throw would): caught and logged alike.
    const run = (handler: Handler, call: () => unknown) => {
      try {
        const returned = call();
        if (isThenable(returned))
          returned.then(undefined, (rejected: unknown) => this.report(handler, rejected));
      } catch (thrown) {
        this.report(handler, thrown);
      }
    };
    return super.subscribe({
      next: (value) => run("next", () => observer.next?.(value) as unknown),
      // Without an error callback rxjs would report the error as unhandled
      // (the process ends): logged instead.
      error: (failure: unknown) =>
        observer.error === undefined
          ? this.report("unhandled", failure)
          : run("error", () => observer.error?.(failure) as unknown),
      complete: () => run("complete", () => observer.complete?.() as unknown),
    });
  }
}

/**
 * `source` for subscribers that may throw: a callback's throw is logged at
 * error level (`stream` names where) and the stream goes on delivering, to
 * that subscriber and the others; the worker feeding it never sees it.
 */
export const guarded = <T>(source: Observable<T>, log: Logger, stream: string): Observable<T> =>
  new GuardedObservable<T>(
    (handler, error) =>
      log.error(
        handler === "unhandled"
          ? `${stream}: the stream ended on an error, and a subscriber has no error callback`
          : `${stream}: a subscriber's ${handler} callback threw; ignored, delivery goes on`,
        { error: messageOf(error) },
      ),
    (subscriber) => source.subscribe(subscriber),
  );
