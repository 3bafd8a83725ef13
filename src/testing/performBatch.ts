import { asyncScheduler } from "rxjs";
import type { TaskDefinition } from "../definition.ts";
import { ConfigError } from "../errors.ts";
import { silentLogger } from "../log.ts";
import { checkOptionShape } from "../optionShape.ts";
import { handlerRunner } from "../run/taskRunner.ts";
import { checkBatchHandler } from "../run/startBatchWorker.ts";
import type { BatchHandler } from "../worker/batchResult.ts";
import { batching } from "../worker/batching.ts";
import {
  checked,
  performOptionShape,
  performTaskWith,
  type PerformOptions,
  type Performed,
} from "./perform.ts";

/**
 * What {@link performBatch} takes besides the definition, the handler and
 * the inputs; all optional, applied to every task of the batch.
 */
export type PerformBatchOptions = Pick<
  PerformOptions,
  "attempt" | "snoozes" | "taskId" | "taskOptions" | "signal"
>;

const { tx: _tx, jobId: _jobId, ...batchShape } = performOptionShape;

// A worker's largest batch (BatchWorkOptions.batchSize).
const maxBatch = 1_000;

/**
 * Runs a batch handler once on `inputs`, in this process, without a
 * database, as a batch worker would (`job.startBatch`): one call with
 * every input, each task with its own context (`taskId` counting up from
 * the `taskId` option, default "1") and timeout, and each task's result
 * classified as perform classifies one task's: the handler's
 * `BatchResult`s taken as the worker takes them (a wrong-length array
 * fails every task with a `BatchResultError`, a Map without a task fails
 * it, a throw fails them all). Resolves with one {@link Performed} per
 * input, in order. An input its schema refuses is reported as perform
 * reports it and not handed to the handler.
 *
 * @example
 * const results = await performBatch(welcomeEmail, sendWelcomes, [{ userId: 1, email: "a@example.com" }, { userId: 2, email: "bad" }]);
 * assert.deepEqual(results.map((r) => r._tag), ["succeeded", "failed"]);
 */
export const performBatch = async <In, V, R, O>(
  definition: TaskDefinition<In, V, R, O>,
  handler: BatchHandler<V, R>,
  inputs: ReadonlyArray<In>,
  options: PerformBatchOptions = {},
): Promise<Array<Performed<O>>> => {
  checkOptionShape("performBatch options", options, batchShape);
  checked(options);
  checkBatchHandler(definition.queue, handler, {});
  if (!Array.isArray(inputs) || inputs.length < 1 || inputs.length > maxBatch)
    throw new ConfigError(
      `performBatch: inputs must be an array of 1 to ${maxBatch} inputs (a batch worker's largest batch), got ${Array.isArray(inputs) ? `${inputs.length}` : typeof inputs}`,
    );
  // Every task is handed in within one turn, so a batch of them all leaves
  // when full; one refused by its schema never comes, and the rest leave
  // at the end of the turn.
  const gathering = batching(
    handler,
    { batchSize: inputs.length, batchWaitMs: 0, concurrency: 1 },
    asyncScheduler,
    silentLogger,
  );
  const running = gathering.run$.subscribe();
  try {
    const runner = handlerRunner(definition, gathering.handler);
    const first = BigInt(options.taskId ?? "1");
    return await Promise.all(
      inputs.map((input, index) =>
        performTaskWith(definition, runner, input, options, (first + BigInt(index)).toString()),
      ),
    );
  } finally {
    running.unsubscribe();
  }
};
