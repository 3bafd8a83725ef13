import { ConfigError } from "../errors.ts";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import type { CheckedInput } from "./checkInput.ts";
import { taskOptionsOf, type EnqueueOptions, type OptionsSource } from "./enqueueOptions.ts";

/** Where a task belongs in a multi-step job run: the run's id and the step's index. */
export interface RunPlace {
  readonly jobId: string;
  readonly stepIndex: number;
}

/**
 * The task rows for inputs that passed validation, as one array per column
 * (what the INSERT statements take): each row with its options resolved,
 * and with its place in a job run when it has one.
 */
export const taskColumns = <V>(
  definition: OptionsSource<V>,
  inputs: ReadonlyArray<CheckedInput<V>>,
  enqueue: EnqueueOptions | undefined,
  place?: RunPlace,
): EnqueueColumns => {
  const columns: EnqueueColumns = {
    inputs: [],
    maxAttempts: [],
    retryInitialMs: [],
    retryMaxMs: [],
    retryCoefficient: [],
    retryJitter: [],
    timeoutMs: [],
    heartbeatMs: [],
    ttlMs: [],
    priority: [],
    concurrencyKey: [],
    concurrencyLimit: [],
    uniqueKey: [],
    rateLimitKey: [],
    delayMs: [],
    groupKey: [],
    startWithinMs: [],
    jobId: [],
    stepIndex: [],
    uniqueForMs: [],
    debounceMs: [],
  };
  for (const input of inputs) {
    const options = taskOptionsOf(definition, input.value, enqueue);
    columns.inputs.push(input.json);
    columns.maxAttempts.push(options.retry.maxAttempts);
    columns.retryInitialMs.push(options.retry.initialIntervalMs);
    columns.retryMaxMs.push(options.retry.maxIntervalMs);
    columns.retryCoefficient.push(options.retry.backoffCoefficient);
    columns.retryJitter.push(options.retry.jitter);
    columns.timeoutMs.push(options.timeoutMs);
    columns.heartbeatMs.push(options.heartbeatMs);
    columns.ttlMs.push(options.ttlMs);
    columns.priority.push(options.priority);
    columns.concurrencyKey.push(options.concurrencyKey);
    columns.concurrencyLimit.push(options.concurrencyLimit);
    columns.uniqueKey.push(options.uniqueKey);
    columns.rateLimitKey.push(options.rateLimitKey);
    columns.delayMs.push(options.delayMs);
    columns.groupKey.push(options.group);
    columns.startWithinMs.push(options.startWithinMs);
    columns.jobId.push(place?.jobId ?? null);
    columns.stepIndex.push(place?.stepIndex ?? null);
    // Job runs and their steps are inserted by statements that know no
    // window and no debounce: refused rather than ignored.
    if (place !== undefined && (options.uniqueForMs !== null || options.debounceMs !== null))
      throw new ConfigError(
        "invalid task option: uniqueForMs and debounceMs apply to tasks, not to multi-step job runs",
      );
    columns.uniqueForMs.push(options.uniqueForMs);
    columns.debounceMs.push(options.debounceMs);
  }
  return columns;
};
