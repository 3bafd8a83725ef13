import type { JobDefinition } from "../definition.ts";
import { ConfigError } from "../errors.ts";
import { checkInput, type CheckedInput } from "../enqueue/checkInput.ts";
import { checkEnqueueOptions, type EnqueueOptions } from "../enqueue/enqueueOptions.ts";
import type { FanOutPolicy } from "../db/fanOutQueries.ts";

export type { FanOutPolicy } from "../db/fanOutQueries.ts";

/**
 * One child task of a fan-out, built by {@link child}: a task of any
 * one-handler job definition, its input checked by that definition's
 * schema. `O` is the definition's output type, what the step after the
 * fan-out receives for it.
 */
export interface Child<O> {
  /** Discriminant: always `"child"`. */
  readonly _tag: "child";
  /** The child's queue. */
  readonly queue: string;
  /** @internal The child's definition (its options are its task's). */
  readonly definition: JobDefinition<unknown, unknown, unknown, unknown>;
  /** @internal The checked input: its value and stored JSON form. */
  readonly input: CheckedInput<unknown>;
  /** @internal Enqueue options for this child (`delayMs`, `priority`, …). */
  readonly options: ChildOptions | undefined;
  /** Phantom: the child's output type, for the compiler only. */
  readonly output?: O;
}

/**
 * A child's task options on top of its definition's: as `enqueue` takes
 * them, without `client` (a child is written in the transaction that
 * completes the step) and without keys that could make it an existing task
 * (`uniqueKey`, `uniqueForMs`, `debounceMs`).
 */
export type ChildOptions = Omit<EnqueueOptions, "client" | "uniqueKey" | "uniqueForMs" | "debounceMs">;

/** What the step after a `continue` fan-out receives for one child: its output, or how it ended otherwise. */
export type ChildResult<O> =
  | {
      /** The child succeeded. */
      readonly ok: true;
      /** Its output, as stored (JSON). */
      readonly output: O;
    }
  | {
      /** The child did not succeed. */
      readonly ok: false;
      /** `failed` (its retries exhausted, a `FatalError`, dead-lettered) or `cancelled` (deleted by ops counts as cancelled). */
      readonly state: "failed" | "cancelled";
      /** Its last error (`"cancelled"` for a cancel, `"deleted"` for a child deleted by ops before it ended). */
      readonly error: string;
      /** The child's task id. */
      readonly taskId: string;
      /** The child's queue (the one it was enqueued on, also when it was dead-lettered). */
      readonly queue: string;
    };

/** Options of {@link fanOut}. */
export interface FanOutOptions<P extends FanOutPolicy = FanOutPolicy> {
  /**
   * What a child that fails for good, is cancelled, dead-lettered or
   * deleted does to the job. `"fail"` (the default): the job fails at once,
   * its outcome naming the child and its error, and the children still
   * pending or running are cancelled. `"continue"`: the job waits for every
   * child and its next step receives each one's {@link ChildResult}.
   */
  readonly onChildFailure?: P;
}

/** A step's request to start child tasks and continue with their results: return it from a step (see {@link fanOut}). */
export interface FanOut<N> {
  /** Discriminant: always `"fanOut"`. */
  readonly _tag: "fanOut";
  /** The children, in the order their results are handed on. */
  readonly children: ReadonlyArray<Child<unknown>>;
  /** What a failed child does to the job. */
  readonly onChildFailure: FanOutPolicy;
  /** Phantom: what the next step receives, for the compiler only. */
  readonly results?: N;
}

/** The outputs of children, in order: what the step after a `fail` fan-out receives. */
export type OutputsOf<C extends ReadonlyArray<Child<unknown>>> = {
  -readonly [K in keyof C]: C[K] extends Child<infer O> ? O : never;
};

/** The results of children, in order: what the step after a `continue` fan-out receives. */
export type ResultsOf<C extends ReadonlyArray<Child<unknown>>> = {
  -readonly [K in keyof C]: C[K] extends Child<infer O> ? ChildResult<O> : never;
};

/** The most children one fan-out may start: a list past it is better enqueued as batches by a step. */
export const maxFanOutChildren = 100_000;

const forbiddenChildOptions = ["client", "uniqueKey", "uniqueForMs", "debounceMs"] as const;

/**
 * A child task for {@link fanOut}: a task of `definition` (a one-handler job
 * of any queue) with `input`, checked now by its schema (a bad input throws
 * a `ValidationError` naming the queue and the field). Multi-step jobs
 * cannot be children (their end is their last step's, which a fan-in does
 * not follow): run their work as a one-handler job, or fan out from them.
 *
 * @example
 * return fanOut(users.map((user) => child(sendEmail, { to: user.email })));
 */
export const child = <In, V, R, O>(
  definition: JobDefinition<In, V, R, O>,
  input: In,
  options?: ChildOptions,
): Child<O> => {
  if (typeof definition !== "object" || definition === null || typeof definition.queue !== "string")
    throw new ConfigError("child: expected a job definition (defineJob)");
  if (definition.kind === "steps")
    throw new ConfigError(
      `child: queue ${definition.queue} is a multi-step job; a child must be a one-handler job (defineJob)`,
    );
  if (options !== undefined) {
    if (typeof options !== "object" || options === null)
      throw new ConfigError(`child options for queue ${definition.queue}: expected an object`);
    for (const name of forbiddenChildOptions)
      if (name in options && (options as Record<string, unknown>)[name] !== undefined)
        throw new ConfigError(
          `child options for queue ${definition.queue} may not have ${name}: a child is a new task of its own, written with its parent's step`,
        );
    checkEnqueueOptions(options);
  }
  return {
    _tag: "child",
    queue: definition.queue,
    definition: definition as unknown as JobDefinition<unknown, unknown, unknown, unknown>,
    input: checkInput(definition, input),
    options,
  };
};

/**
 * Starts `children` and continues the job with their results once every one
 * has ended: return it from a step. The children are written in the
 * transaction that completes the step (none lost, none started twice, if
 * the process dies at any point); the next step is enqueued, once, by the
 * transaction that ends the last child, with the children's outputs in the
 * order listed (typed: a tuple for a tuple, an array for an array). With
 * `onChildFailure: "continue"` it receives a {@link ChildResult} per child
 * instead. No children: the next step runs at once with an empty list.
 * See docs/workflows.md#fan-out-and-fan-in.
 *
 * @example
 * Steps.of(digest)
 *   .step(async ({ ids }) => fanOut(ids.map((id) => child(fetchPage, { id }))))
 *   .step(async (pages) => done({ words: pages.reduce((n, page) => n + page.words, 0) }));
 */
export function fanOut<const C extends ReadonlyArray<Child<unknown>>>(
  children: C,
  options?: FanOutOptions<"fail">,
): FanOut<OutputsOf<C>>;
/** With `onChildFailure: "continue"`: the next step receives each child's result, failures included. */
export function fanOut<const C extends ReadonlyArray<Child<unknown>>>(
  children: C,
  options: FanOutOptions<"continue">,
): FanOut<ResultsOf<C>>;
export function fanOut(
  children: ReadonlyArray<Child<unknown>>,
  options: FanOutOptions = {},
): FanOut<unknown> {
  if (!Array.isArray(children))
    throw new ConfigError("fanOut: expected an array of children (child(definition, input))");
  if (typeof options !== "object" || options === null)
    throw new ConfigError("fanOut: expected an options object");
  for (const key of Object.keys(options))
    if (key !== "onChildFailure")
      throw new ConfigError(`fanOut: unknown option ${key} (expected onChildFailure)`);
  const policy = options.onChildFailure ?? "fail";
  if (policy !== "fail" && policy !== "continue")
    throw new ConfigError(`fanOut: onChildFailure must be "fail" or "continue", got ${String(policy)}`);
  if (children.length > maxFanOutChildren)
    throw new ConfigError(
      `fanOut: ${children.length} children, over the ${maxFanOutChildren} one fan-out may start; enqueue them as batches instead`,
    );
  children.forEach((item, index) => {
    if (typeof item !== "object" || item === null || (item as { _tag?: unknown })._tag !== "child")
      throw new ConfigError(`fanOut: child ${index} is not a child(definition, input)`);
  });
  return { _tag: "fanOut", children: [...children], onChildFailure: policy };
}
