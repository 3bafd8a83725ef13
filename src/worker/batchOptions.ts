import { ConfigError } from "../errors.ts";
import { checkOptionShape, type OptionShape } from "../optionShape.ts";
import { workOptionShape, type WorkOptions } from "./workOptions.ts";

/** How a batch worker (`job.startBatch`) runs: a worker's options, with `concurrency` counting batches. */
export interface BatchWorkOptions extends WorkOptions {
  /**
   * Batch handler calls running at once (not tasks): the worker runs up to
   * `concurrency × batchSize` tasks, which must be at most 100,000. An
   * integer from 1. Default 1.
   */
  readonly concurrency?: number;
  /** The most tasks one call of the handler gets: an integer from 1 to 1,000. Default 100. */
  readonly batchSize?: number;
  /**
   * How long a batch waits for more tasks after its first one, when fewer
   * than `batchSize` are ready (the wait counts toward each task's
   * timeout). 0: no waiting beyond the tasks ready in the same turn of the
   * event loop. At least 0. Default 50 ms.
   */
  readonly batchWaitMs?: number;
}

/** A batch worker's resolved batching, and the task-level options its worker runs on. */
export interface ResolvedBatchOptions {
  readonly batchSize: number;
  readonly batchWaitMs: number;
  /** Batch calls at once. */
  readonly concurrency: number;
  /** The worker's own options: `concurrency` is task slots, `concurrency × batchSize`. */
  readonly work: WorkOptions;
}

const maxBatchSize = 1_000;
// What a worker may run at once (workOptionShape's concurrency).
const maxTaskSlots = 100_000;

/** Every batch work option, its type and range. */
export const batchWorkOptionShape: OptionShape = {
  ...workOptionShape,
  batchSize: { type: "integer", min: 1, max: maxBatchSize },
  batchWaitMs: { type: "number", min: 0, max: 2_147_483_647 },
};

/**
 * Validates a batch worker's options (unknown keys, types, ranges) and
 * turns them into the worker's task-level options, synchronously: throws
 * `ConfigError` naming the option.
 *
 * @example
 * checkBatchWorkOptions({ batchSize: 0 }); // ConfigError: invalid batch work option: batchSize must be an integer from 1 to 1000, got number 0
 */
export const checkBatchWorkOptions = (options: BatchWorkOptions = {}): ResolvedBatchOptions => {
  checkOptionShape("invalid batch work option", options, batchWorkOptionShape);
  const { batchSize = 100, batchWaitMs = 50, concurrency = 1, ...rest } = options;
  const slots = concurrency * batchSize;
  if (slots > maxTaskSlots)
    throw new ConfigError(
      `invalid batch work option: concurrency × batchSize (tasks running at once) must be at most ${maxTaskSlots}, got ${concurrency} × ${batchSize}`,
    );
  return { batchSize, batchWaitMs, concurrency, work: { ...rest, concurrency: slots } };
};
