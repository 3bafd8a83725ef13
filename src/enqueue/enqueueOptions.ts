import type { JobDefinition } from "../definition.ts";
import { ConfigError } from "../errors.ts";
import { checkOptionShape, type OptionRule, type OptionShape } from "../optionShape.ts";
import { resolveTaskOptions, taskOptionShape, type TaskOptions, type TaskOptionsInput } from "../options.ts";
import type { Queryable } from "../db/query.ts";

/** Per-enqueue options, applied last. */
export type EnqueueOptions = TaskOptionsInput & {
  /** Run no earlier than this time (instead of `delayMs`). */
  readonly runAt?: Date | undefined;
  /**
   * Start by this time or never (instead of `startWithinMs`): a task not
   * claimed by then ends `cancelled`, "not started by <time>". Must be in
   * the future, and after `runAt`/`delayMs` (docs/flow-control.md#deadlines).
   */
  readonly startBy?: Date | undefined;
  /** Your pg client, inside your transaction: the task exists if and only if you commit. */
  readonly client?: Queryable | undefined;
};

/** What a task type contributes to a task's options: its own, and those computed from the input. */
export type OptionsSource<V> = Pick<JobDefinition<unknown, V, unknown, unknown>, "options" | "optionsFor">;

/** A pg `Pool`, `PoolClient` or `Client`: anything with `query`. */
export const queryableRule: OptionRule = {
  is: (value) =>
    typeof value === "object" && value !== null && typeof (value as Queryable).query === "function",
  expected: "a pg Pool or client (with a query method)",
};

/** The options an enqueue takes (enqueueBatch adds its own to them). */
export const enqueueShape: OptionShape = {
  ...taskOptionShape,
  runAt: "Date",
  startBy: "Date",
  client: queryableRule,
};

/**
 * Checks an enqueue's options once per call, before anything is written:
 * unknown keys, wrong types and ranges (see `checkOptionShape`), and the
 * rules across fields.
 */
export const checkEnqueueOptions = (enqueue: EnqueueOptions | undefined): void => {
  if (enqueue === undefined) return;
  checkOptionShape("invalid enqueue option", enqueue, enqueueShape);
  const runAt = enqueue.runAt;
  if (runAt !== undefined && !Number.isFinite(runAt.getTime()))
    throw new ConfigError(
      `invalid enqueue option: runAt must be a valid Date, got ${String(runAt).slice(0, 40)}`,
    );
  if (runAt !== undefined && enqueue.delayMs !== undefined)
    throw new ConfigError("invalid enqueue option: give delayMs or runAt, not both");
  const startBy = enqueue.startBy;
  if (startBy === undefined) return;
  if (!Number.isFinite(startBy.getTime()))
    throw new ConfigError(
      `invalid enqueue option: startBy must be a valid Date, got ${String(startBy).slice(0, 40)}`,
    );
  if (enqueue.startWithinMs !== undefined && enqueue.startWithinMs !== null)
    throw new ConfigError("invalid enqueue option: give startWithinMs or startBy, not both");
  // Rejected rather than cancelled at once: a deadline already past is a
  // bug in the caller (a clock, a unit), better seen than a silent cancel.
  if (startBy.getTime() <= Date.now())
    throw new ConfigError(
      `invalid enqueue option: startBy (${startBy.toISOString()}) is not in the future: the task could never start`,
    );
  if (runAt !== undefined && startBy.getTime() <= runAt.getTime())
    throw new ConfigError(
      `invalid enqueue option: startBy (${startBy.toISOString()}) must be after runAt (${runAt.toISOString()})`,
    );
};

/**
 * One task's options: the definition's, then its per-input overrides, then
 * the enqueue's (`runAt` turned into a delay, `startBy` into a
 * `startWithinMs`).
 */
export const taskOptionsOf = <V>(
  definition: OptionsSource<V>,
  value: V,
  enqueue: EnqueueOptions | undefined,
): TaskOptions => {
  // Checked once per call by checkEnqueueOptions; here only turned into a delay.
  const runAt = enqueue?.runAt;
  const now = Date.now();
  const runAtDelay = runAt === undefined ? undefined : { delayMs: Math.max(0, runAt.getTime() - now) };
  // The same clock reading for both, so a startBy after runAt stays after it.
  const startBy = enqueue?.startBy;
  const startWithin =
    startBy === undefined ? undefined : { startWithinMs: Math.max(1, startBy.getTime() - now) };
  const { client: _client, runAt: _runAt, startBy: _startBy, ...overrides } = enqueue ?? {};
  return resolveTaskOptions(
    definition.options,
    definition.optionsFor?.(value),
    overrides,
    runAtDelay === undefined && startWithin === undefined ? undefined : { ...runAtDelay, ...startWithin },
  );
};
