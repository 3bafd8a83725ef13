import { asyncScheduler } from "rxjs";
import type { JobDefinition } from "../definition.ts";
import { ConfigError, messageOf } from "../errors.ts";
import type { WorkerStarterDeps } from "../client/clientDeps.ts";
import { checkBatchWorkOptions, type BatchWorkOptions } from "../worker/batchOptions.ts";
import type { BatchHandler } from "../worker/batchResult.ts";
import { batching } from "../worker/batching.ts";
import { isTransactional } from "../worker/transactional.ts";
import { startWorker, type Worker } from "./startWorker.ts";
import { handlerRunner } from "./taskRunner.ts";

/**
 * Checks a batch handler and its options, synchronously: a handler that
 * is no function, or is marked `transactional` (one transaction per task
 * cannot hold a batch's writes; docs/design/batch-handlers.md), and bad
 * options are a `ConfigError` here.
 */
export const checkBatchHandler = (queue: string, handler: unknown, options: BatchWorkOptions) => {
  if (typeof handler !== "function")
    throw new ConfigError(
      `startBatch on queue ${queue}: the batch handler must be a function, got ${typeof handler}`,
    );
  if (isTransactional(handler))
    throw new ConfigError(
      `startBatch on queue ${queue}: a transactional handler cannot run in batches (each task's verdict commits in its own transaction); use start() for it, or write the batch in one transaction of your own and return its results`,
    );
  return checkBatchWorkOptions(options);
};

/**
 * Starts a worker whose tasks go to `handler` in batches: the worker of
 * ./startWorker.ts, task by task through the one attempt pipeline, with a
 * handler that hands each task to the batching (src/worker/batching.ts)
 * and waits for its own result. The batching runs while the worker does.
 */
export const startBatchWorker = <In, V, R, O>(
  client: WorkerStarterDeps,
  definition: JobDefinition<In, V, R, O>,
  handler: BatchHandler<V, R>,
  options: BatchWorkOptions,
): Worker<O> => {
  const checked = checkBatchHandler(definition.queue, handler, options);
  client.assertOpen();
  const gathering = batching(handler, checked, checked.work.scheduler ?? asyncScheduler, client.log);
  const worker = startWorker(client, definition, handlerRunner(definition, gathering.handler), checked.work);
  const running = gathering.run$.subscribe({
    error: (error: unknown) =>
      client.log.error("batching stopped on an error", { queue: definition.queue, error: messageOf(error) }),
  });
  // Every attempt has ended once the worker's outcomes complete (stop, close, shutdownQueue).
  worker.outcomes$.subscribe({ complete: () => running.unsubscribe() });
  return worker;
};
