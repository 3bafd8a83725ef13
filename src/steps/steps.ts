import { ConfigError } from "../errors.ts";
import type { StepJobDefinition } from "../definition.ts";
import type { JsonValue } from "../json.ts";
import { resolveTaskOptions, type TaskOptionsInput } from "../options.ts";
import type { TaskContext } from "../worker/execute.ts";
import type { FanOut, FanOutPolicy } from "./fanOut.ts";

/** Go on to the next step with this value, optionally after a delay. */
export interface Next<N> {
  /** Discriminant: always `"next"`. */
  readonly _tag: "next";
  /** The next step's input (JSON, since it is stored in the task row). */
  readonly value: N;
  /** How long the next step waits before it may run, in ms; 0 from {@link next}. */
  readonly delayMs: number;
}

/** End the job with this output. */
export interface Done<D> {
  /** Discriminant: always `"done"`. */
  readonly _tag: "done";
  /** The job's output, checked against the definition's output schema; `null` from `done()`. */
  readonly value: D;
}

/** Hands `value` to the next step at once. */
export const next = <N>(value: N): Next<N> => ({ _tag: "next", value, delayMs: 0 });

/** Hands `value` to the next step after `delayMs`. */
export const nextAfter = <N>(value: N, delayMs: number): Next<N> => {
  resolveTaskOptions({ delayMs });
  return { _tag: "next", value, delayMs };
};

/** Ends the job; `value` is the job's output (`null` when omitted). */
export function done(): Done<null>;
export function done<D>(value: D): Done<D>;
export function done<D>(value?: D): Done<D | null> {
  return { _tag: "done", value: value === undefined ? null : value };
}

/** What a step is told. */
export interface StepContext<S> extends TaskContext {
  /** The job run's id, shared by all its steps (scheduled runs too). */
  readonly jobId: string;
  /** 0-based. */
  readonly stepIndex: number;
  /** How many steps the job has. */
  readonly stepCount: number;
  /** The state given to `Steps.of`, shared by every step. */
  readonly state: S;
}

/** @internal A step as the chain stores it: input and state erased, checked by the builder. */
export type StepFn = (
  input: unknown,
  context: StepContext<unknown>,
) => Promise<Next<unknown> | Done<unknown> | FanOut<unknown>>;

/** @internal One step of a chain: what it runs, and its task options (or how to compute them from its input). */
export interface StepDefinition {
  readonly run: StepFn;
  readonly options: TaskOptionsInput | ((input: unknown) => TaskOptionsInput) | undefined;
}

/**
 * A step's task options: fixed, or computed from the step's own input (a
 * `concurrencyKey` per user, say), the way a definition's `optionsFor` is
 * computed from the first step's input.
 */
export type StepOptions<I> = TaskOptionsInput | ((input: I) => TaskOptionsInput);

/** @internal A step's options for its input; a computed `uniqueKey` is refused like a written one. */
export const stepOptionsFor = (
  queue: string,
  step: StepDefinition,
  input: unknown,
): TaskOptionsInput | undefined => {
  const options = typeof step.options === "function" ? step.options(input) : step.options;
  if (options?.uniqueKey !== undefined && options.uniqueKey !== null) throw uniqueKeyRefused(queue);
  return options;
};

const uniqueKeyRefused = (queue: string): ConfigError =>
  new ConfigError(
    `a step of queue ${queue} cannot take a uniqueKey: a run whose next step found the key taken could not go on`,
  );

/** What a step that fanned out stored as its output: how many children it started, and its policy. */
export interface FannedOut {
  /** Discriminant: always `"fanOut"`. */
  readonly _tag: "fanOut";
  /** How many children it started. */
  readonly children: number;
  /** What a failed child does to the job. */
  readonly onChildFailure: FanOutPolicy;
}

/** What a step returned, as stored in its task's output. */
export type StepOutput = Next<unknown> | Done<unknown> | FannedOut;

/**
 * The steps of a multi-step job, chained so that each step's output type is
 * the next step's input type, checked by the compiler. Values handed between
 * steps are JSON ({@link JsonValue}); a `done` value is checked against the
 * definition's output schema. Built in the worker process and passed to
 * `underway.job(definition).start(steps)`.
 *
 * @example
 * const signupSteps = Steps.of(signup, { state: { mailer } })
 *   .step(async ({ userId }) => next({ userId, token: await makeToken(userId) }))
 *   .step(async ({ userId, token }, { state }) => { await state.mailer.send(userId, token); return nextAfter({ userId }, 86_400_000); })
 *   .step(async ({ userId }) => done({ remindedUserId: userId }));
 * const worker = underway.job(signup).start(signupSteps);
 */
export class Steps<V, Cur, Out, S, R> {
  /** Phantom: what the job's last value may be, for the compiler only. */
  declare readonly output?: Out | Cur;
  /** Phantom: the first step's input type, for the compiler only. */
  declare readonly input?: (input: V) => void;

  private constructor(
    /** @internal */
    readonly queue: string,
    /** @internal */
    readonly state: S,
    /** @internal */
    readonly steps: ReadonlyArray<StepDefinition>,
  ) {}

  /**
   * Starts a chain for a multi-step job definition; its input schema types
   * the first step's input. `state` is handed to every step.
   *
   * @example
   * const steps = Steps.of(signup, { state: { mailer } })
   *   .step(async ({ userId }) => next({ userId }))
   *   .step(async ({ userId }, { state }) => {
   *     await state.mailer.welcome(userId);
   *     return done({ welcomed: userId });
   *   });
   */
  static of<In, V, R, O, S = undefined>(
    definition: StepJobDefinition<In, V, R, O>,
    config: { readonly state?: S } = {},
  ): Steps<V, V, never, S, R> {
    return new Steps(definition.queue, config.state as S, []);
  }

  /**
   * Adds a step. `options` override the definition's task options for this
   * step's tasks (retry policy, timeout, priority, …), fixed or computed
   * from this step's input; the definition's `optionsFor` applies to the
   * first step only, whose input its type names. The first step's options
   * are the definition's, since producers enqueue it.
   *
   * @example
   * .step(async ({ userId }) => next({ userId }), ({ userId }) => ({ concurrencyKey: `user:${userId}` }))
   */
  step<N extends JsonValue = never, D extends R = never, F extends JsonValue = never>(
    run: (input: Cur, context: StepContext<S>) => Promise<Next<N> | Done<D> | FanOut<F>>,
    options?: StepOptions<Cur>,
  ): Steps<V, N | F, Out | D, S, R> {
    if (options !== undefined && typeof options !== "function") {
      // Checked where they are written, not when the step before finishes.
      resolveTaskOptions(options);
      if (options.uniqueKey !== undefined && options.uniqueKey !== null) throw uniqueKeyRefused(this.queue);
    }
    if (this.steps.length === 0 && options !== undefined)
      throw new ConfigError(
        `the first step of queue ${this.queue} takes its options from the job definition (producers enqueue it)`,
      );
    return new Steps<V, N | F, Out | D, S, R>(this.queue, this.state, [
      ...this.steps,
      { run: run as unknown as StepFn, options: options as StepDefinition["options"] },
    ]);
  }
}
