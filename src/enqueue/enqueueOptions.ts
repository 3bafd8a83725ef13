import type { JobDefinition } from "../definition.ts";
import { ConfigError } from "../errors.ts";
import { resolveTaskOptions, type TaskOptions, type TaskOptionsInput } from "../options.ts";
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

/**
 * One task's options: the definition's, then its per-input overrides, then
 * the enqueue's (`runAt` turned into a delay).
 */
export const taskOptionsOf = <V>(
  definition: OptionsSource<V>,
  value: V,
  enqueue: EnqueueOptions | undefined,
): TaskOptions => {
  const runAt = enqueue?.runAt;
  if (runAt !== undefined && !(runAt instanceof Date && Number.isFinite(runAt.getTime())))
    throw new ConfigError(
      `invalid enqueue option: runAt must be a valid Date, got ${String(runAt).slice(0, 40)}`,
    );
  if (runAt !== undefined && enqueue?.delayMs !== undefined)
    throw new ConfigError("invalid enqueue option: give delayMs or runAt, not both");
  const runAtDelay = runAt === undefined ? undefined : { delayMs: Math.max(0, runAt.getTime() - Date.now()) };
  const { client: _client, runAt: _runAt, ...overrides } = enqueue ?? {};
  return resolveTaskOptions(definition.options, definition.optionsFor?.(value), overrides, runAtDelay);
};
