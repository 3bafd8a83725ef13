import * as E from "fp-ts/lib/Either.js";
import * as T from "fp-ts/lib/Task.js";
import * as TE from "fp-ts/lib/TaskEither.js";
import { pipe } from "fp-ts/lib/function.js";
import { Subject, defer, from, ignoreElements, type Observable, type SchedulerLike } from "rxjs";
import { describeThrown } from "../describeThrown.ts";
import { AbortError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { BatchResultError, type BatchHandler, type BatchTask } from "./batchResult.ts";
import type { Handler, TaskContext } from "./execute.ts";
import { mergeBatches } from "./mergeBatches.ts";

/** How a batch worker gathers its tasks (resolved batch options). */
export interface BatchSettings {
  readonly batchSize: number;
  readonly batchWaitMs: number;
  /** Batch calls at once. */
  readonly concurrency: number;
}

/** A task handed to the batching, waiting for its batch's result. */
interface Pending<I> {
  readonly task: BatchTask<I>;
  /** Set once the task is in a batch, or left before (its signal fired): it is settled by one of them only. */
  state: "waiting" | "batched" | "left";
  readonly settle: (result: E.Either<unknown, unknown>) => void;
}

/** A batch worker's two halves: the one-task handler each attempt calls, and the stream that runs the batches. */
export interface Batching<I, O> {
  /**
   * The handler every task's attempt runs (src/worker/attempt.ts): hands
   * the task to the batching and settles with the task's own result, as a
   * one-task handler would (resolve with its output, or throw its error).
   */
  readonly handler: Handler<I, O>;
  /** Gathers the tasks handed in and runs their batches; subscribed for as long as the worker runs. */
  readonly run$: Observable<never>;
}

const shown = (value: unknown): string => {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Map) return "a Map";
  return typeof value === "object" ? "an object" : typeof value;
};

/** One element as a task's result: its output, or its error (a malformed element is an error of its own). */
const resultOf = (element: unknown, where: string): E.Either<unknown, unknown> => {
  if (typeof element === "object" && element !== null) {
    const result = element as { readonly ok?: unknown; readonly output?: unknown; readonly error?: unknown };
    if (result.ok === true) return E.right(result.output);
    if (result.ok === false) return E.left(result.error);
  }
  return E.left(
    new BatchResultError(
      `the batch handler's result for ${where} is ${shown(element)}, not a BatchResult: use BatchResult.ok(output) or BatchResult.fail(error)`,
    ),
  );
};

/**
 * Each task's result in what the batch handler returned: an array matched
 * by position (of the wrong length, none is taken: positions cannot be
 * trusted, so every task fails), or a Map by task id (a task missing from
 * it fails alone). A task never succeeds without a result of its own.
 * Total: a returned value whose reads throw (a hostile Proxy) fails the
 * batch, never the worker.
 */
export const resultsOf = (
  tasks: ReadonlyArray<BatchTask<unknown>>,
  returned: unknown,
): E.Either<BatchResultError, ReadonlyArray<E.Either<unknown, unknown>>> => {
  try {
    if (Array.isArray(returned)) {
      if (returned.length !== tasks.length)
        return E.left(
          new BatchResultError(
            `the batch handler returned ${returned.length} results for ${tasks.length} tasks; results are matched by position, so none is taken: every task of the batch fails and is retried by its policy`,
          ),
        );
      return E.right(
        tasks.map((task, index) => resultOf(returned[index], `task ${task.context.taskId} (index ${index})`)),
      );
    }
    if (returned instanceof Map) {
      const byId = returned as ReadonlyMap<unknown, unknown>;
      return E.right(
        tasks.map((task) =>
          byId.has(task.context.taskId)
            ? resultOf(byId.get(task.context.taskId), `task ${task.context.taskId}`)
            : E.left(
                new BatchResultError(
                  `the batch handler's Map has no result for task ${task.context.taskId}: the task fails and is retried by its policy`,
                ),
              ),
        ),
      );
    }
    return E.left(
      new BatchResultError(
        `the batch handler returned ${shown(returned)}: it must return an array of BatchResult (one per task, in order) or a Map from taskId to BatchResult`,
      ),
    );
  } catch (thrown: unknown) {
    return E.left(
      new BatchResultError(`the batch handler's result could not be read: ${describeThrown(thrown).message}`),
    );
  }
};

/**
 * One call of the batch handler as a TaskEither: the handler's rejection
 * (or a throw before its promise) is the Left that fails every task of the
 * batch; otherwise each task's own result (see {@link resultsOf}).
 */
export const callBatch =
  <I, O>(handler: BatchHandler<I, O>, log: Logger) =>
  (
    tasks: ReadonlyArray<BatchTask<I>>,
  ): T.Task<E.Either<unknown, ReadonlyArray<E.Either<unknown, unknown>>>> =>
    pipe(
      TE.tryCatch(
        // Copies, down to each context: the handler may sort or splice what
        // it gets, or write over a context's taskId; matching uses ours.
        () => handler(tasks.map(({ input, context }) => ({ input, context: { ...context } }))),
        (thrown) => thrown,
      ),
      TE.chainEitherKW((returned) => resultsOf(tasks, returned)),
      TE.tapError((error) =>
        TE.fromIO(() => {
          if (error instanceof BatchResultError)
            log.error("batch handler returned unusable results; every task of the batch fails", {
              tasks: tasks.length,
              error: error.message,
            });
        }),
      ),
    );

/** Resolves `done` once every signal has fired for another reason than a cancel; `stop` removes its listeners. */
const everyGivenUp = (
  signals: ReadonlyArray<AbortSignal>,
): { readonly done: Promise<void>; readonly stop: () => void } => {
  const listening: Array<() => void> = [];
  const done = new Promise<void>((resolve) => {
    const givenUp = (signal: AbortSignal): boolean =>
      signal.aborted && !(signal.reason instanceof AbortError && signal.reason.kind === "cancelled");
    let left = signals.filter((signal) => !givenUp(signal)).length;
    if (left === 0) return resolve();
    for (const signal of signals) {
      if (givenUp(signal)) continue;
      const fired = (): void => {
        if (!givenUp(signal)) return;
        left -= 1;
        if (left === 0) resolve();
      };
      signal.addEventListener("abort", fired, { once: true });
      listening.push(() => signal.removeEventListener("abort", fired));
    }
  });
  return { done, stop: () => listening.forEach((remove) => remove()) };
};

/** Settles each task of a batch with its own result, or every task with the batch's error. */
const settleAll = <I>(
  batch: ReadonlyArray<Pending<I>>,
  outcome: E.Either<unknown, ReadonlyArray<E.Either<unknown, unknown>>>,
): void => {
  batch.forEach((pending, index) =>
    pending.settle(
      E.isLeft(outcome) ? outcome : (outcome.right[index] ?? E.left(new BatchResultError("no result"))),
    ),
  );
};

/**
 * The batching of one batch worker. Each task's attempt runs the one
 * attempt pipeline as for a one-task handler (decode, timeout, signal,
 * encode, record through the grouped completions, retries, DLQ, events);
 * its handler ({@link Batching.handler}) hands the task in here and waits
 * for its own result. `run$` gathers the tasks (./mergeBatches.ts: up to
 * `batchSize`, `batchWaitMs` after the first, `concurrency` calls at once),
 * calls the batch handler ({@link callBatch}) and settles each task. A task
 * whose signal fires before its batch leaves (cancel, timeout, lost lease,
 * shutdown) leaves the batching with the signal's reason and is never handed
 * to the batch handler.
 */
export const batching = <I, O>(
  handler: BatchHandler<I, O>,
  settings: BatchSettings,
  scheduler: SchedulerLike,
  log: Logger,
): Batching<I, O> => {
  const handedIn = new Subject<Pending<I>>();
  const call = callBatch(handler, log);
  const runBatch = (batch: ReadonlyArray<Pending<I>>): Observable<never> =>
    defer(() => {
      for (const pending of batch) pending.state = "batched";
      const called = call(batch.map((pending) => pending.task))().then((outcome) =>
        settleAll(batch, outcome),
      );
      // The call's slot is free once the call settles, or once every task of
      // it was given up (its timeout, lost lease or shutdown fired): a call
      // that never settles must not hold a slot, and with it the worker,
      // forever, as a hung one-task handler does not (./execute.ts
      // runHandler). A cancelled task is not given up: as a one-task
      // handler's, its call is waited for.
      const givenUp = everyGivenUp(batch.map((pending) => pending.task.context.signal));
      return from(Promise.race([called, givenUp.done]).finally(givenUp.stop));
    }).pipe(ignoreElements());
  const run$ = handedIn.pipe(
    mergeBatches(
      runBatch,
      {
        size: settings.batchSize,
        waitMs: settings.batchWaitMs,
        concurrency: settings.concurrency,
        live: (pending) => pending.state === "waiting",
      },
      scheduler,
    ),
  );
  const taskHandler = (input: I, context: TaskContext): Promise<O> =>
    new Promise<O>((resolve, reject) => {
      const { signal } = context;
      const leave = (): void => {
        if (pending.state !== "waiting") return;
        pending.state = "left";
        reject(signal.reason);
      };
      const pending: Pending<I> = {
        task: { input, context },
        state: "waiting",
        settle: (result) => {
          signal.removeEventListener("abort", leave);
          // The element's output, as the handler typed it (BatchResult<O>).
          if (E.isRight(result)) resolve(result.right as O);
          else reject(result.left);
        },
      };
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener("abort", leave, { once: true });
      handedIn.next(pending);
    });
  return { handler: taskHandler, run$: run$.pipe(ignoreElements()) };
};
