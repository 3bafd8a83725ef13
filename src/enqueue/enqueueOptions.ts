import type { JobDefinition } from "../definition.ts";
import { ConfigError } from "../errors.ts";
import { checkOptionShape, type OptionRule, type OptionShape } from "../optionShape.ts";
import { resolveTaskOptions, taskOptionShape, type TaskOptions, type TaskOptionsInput } from "../options.ts";
import type { Queryable } from "../db/query.ts";

/** Per-enqueue options, applied last. */
export type EnqueueOptions = TaskOptionsInput & {
  /** Run no earlier than this time (instead of `delayMs`). */
  readonly runAt?: Date | undefined;
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

const enqueueShape: OptionShape = { ...taskOptionShape, runAt: "Date", client: queryableRule };

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
};

/**
 * One task's options: the definition's, then its per-input overrides, then
 * the enqueue's (`runAt` turned into a delay).
 */
export const taskOptionsOf = <V>(
  definition: OptionsSource<V>,
  value: V,
  enqueue: EnqueueOptions | undefined,
): TaskOptions => {
  // Checked once per call by checkEnqueueOptions; here only turned into a delay.
  const runAt = enqueue?.runAt;
  const runAtDelay = runAt === undefined ? undefined : { delayMs: Math.max(0, runAt.getTime() - Date.now()) };
  const { client: _client, runAt: _runAt, ...overrides } = enqueue ?? {};
  return resolveTaskOptions(definition.options, definition.optionsFor?.(value), overrides, runAtDelay);
};
