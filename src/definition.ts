import { codecOf, jsonCodec, type Codec, type Schema, type SchemaInput, type SchemaOutput } from "./codec.ts";
import { ConfigError } from "./errors.ts";
import { checkQueueName } from "./identifier.ts";
import type { JsonValue } from "./json.ts";
import { checkOptionShape, type OptionRule } from "./optionShape.ts";
import { resolveTaskOptions, taskOptionShape, type TaskOptionsInput } from "./options.ts";

/** What {@link defineJob} and {@link defineStepJob} take. */
export interface DefinitionConfig<S extends Schema, OS extends Schema | undefined> {
  /** The queue's name: 1-128 characters of A-Z, a-z, 0-9, `_ . : -`. */
  readonly queue: string;
  /** Name of the queue that receives tasks failed for good. */
  readonly dlq?: string;
  /** Schema of the input: an io-ts codec or a Standard Schema v1 validator (zod, valibot, arktype). */
  readonly input: S;
  /**
   * Schema of the output, so `result()`, `outcome()` and `outcomes$` give
   * the decoded type in every process. Without it, outputs are plain JSON
   * ({@link JsonValue}) and a handler must return JSON-compatible data.
   */
  readonly output?: OS;
  /** Task options stored with every task enqueued (retry policy, timeout, priority, …). */
  readonly options?: TaskOptionsInput;
  /** Option overrides computed from each input, applied over `options`. */
  readonly optionsFor?: (input: SchemaOutput<S>) => TaskOptionsInput;
  /**
   * At most `limit` attempts of this queue start in any window of
   * `periodMs`, across every process: per budget, the queue's own for tasks
   * without a `rateLimitKey`, one per key for the others. Tasks held back
   * stay pending (no attempt spent) and start as soon as their budget
   * allows. A worker writes it to the queue's row when it starts; a setting
   * an operator stored (`ops.setRateLimit`, `underway queues rate-limit`)
   * overrides it until cleared. See docs/flow-control.md.
   */
  readonly rateLimit?: RateLimit | null;
  /**
   * How many times one task may snooze (`snooze(ms)` in its handler, no
   * attempt spent); its next snooze fails it for good with a
   * `SnoozeLimitError`, so a handler that always snoozes ends. An integer
   * from 0 (no snooze allowed). Default 100.
   */
  readonly maxSnoozes?: number;
  /**
   * A cap on the queue's pending tasks: an enqueue that would take it past
   * this rejects with `QueueFullError` and writes nothing (`enqueueMany`:
   * none of the batch). Enforced across every process, under a lock taken by
   * enqueues of capped queues only. Retries and snoozes going back to
   * pending are not refused (they are in the table already): the cap bounds
   * enqueues. An operator may change or lift it at run time
   * (`ops.setMaxPending`). See docs/flow-control.md.
   */
  readonly maxPending?: number | null;
  /**
   * The pace of `ctx.progress` and `ctx.log` (docs/workflows.md): at most
   * one progress write and one batch of log lines per this many ms per
   * running task, the latest progress value winning; what is left is
   * written before the attempt's result. An integer from 10 to 3,600,000.
   * Default 500.
   */
  readonly progressIntervalMs?: number;
  /**
   * Log lines kept per attempt (`ctx.log`): past it the oldest are cut, and
   * counted. An integer from 1 to 100,000. Default 1,000.
   */
  readonly maxLogLines?: number;
  /**
   * Longest log line kept, in UTF-16 code units: a longer one is cut,
   * saying how much. An integer from 100 to 1,000,000. Default 2,000.
   */
  readonly maxLogLineLength?: number;
}

/** @internal The pace and bounds of ctx.progress and ctx.log unless a definition says otherwise. */
export const defaultReportLimits = {
  progressIntervalMs: 500,
  maxLogLines: 1_000,
  maxLogLineLength: 2_000,
} as const;

/** @internal How many times a task may snooze unless its definition says otherwise. */
export const defaultMaxSnoozes = 100;

/** A rate limit: at most `limit` starts in any window of `periodMs` milliseconds. */
export interface RateLimit {
  /** Starts allowed per window: an integer from 1. */
  readonly limit: number;
  /** The window's length in milliseconds: an integer from 1 to 2,147,483,647 (about 24.8 days). */
  readonly periodMs: number;
}

const int32 = 2_147_483_647;

/** The shape of a {@link RateLimit}: both fields required (checked by {@link checkRateLimit}). */
export const rateLimitShape = {
  limit: { type: "integer", min: 1, max: int32 },
  periodMs: { type: "integer", min: 1, max: int32 },
} as const;

/**
 * Checks a rate limit given to `what` (a definition, an operator's call):
 * the option shape (unknown keys by name, integers in range), and both
 * fields present; errors name the field by `path` (`rateLimit.periodMs`).
 * Returns it frozen.
 */
export const checkRateLimit = (what: string, value: unknown, path = "rateLimit."): RateLimit => {
  const checked = checkOptionShape(what, value, rateLimitShape, path) as Partial<RateLimit>;
  for (const field of ["limit", "periodMs"] as const)
    if (checked[field] === undefined)
      throw new ConfigError(`${what}: ${path}${field} is required (a rate limit is { limit, periodMs })`);
  return Object.freeze({ limit: checked.limit as number, periodMs: checked.periodMs as number });
};

/** The output type a definition's `output` schema gives readers; `JsonValue` without one. */
export type OutputOf<OS> = OS extends Schema ? SchemaOutput<OS> : JsonValue;
/**
 * What a handler returns for a definition's `output` schema. Without one,
 * `JsonValue`, or nothing at all (`Promise<void>`): the output is then `null`.
 */
export type ReturnOf<OS> = OS extends Schema ? SchemaInput<OS> : JsonValue | void;

/**
 * A task type, defined once in a module that producers and workers both
 * import: its queue, its input and output schemas, and the task options
 * stored with every task. It holds no connection and no handler: a producer
 * enqueues with `underway.job(definition)`, a worker attaches its handler
 * with `underway.job(definition).start(handler)`, and both use the same
 * options, so they cannot disagree.
 *
 * - `In`: what you enqueue; `V`: what the handler receives;
 * - `R`: what the handler returns; `O`: what `result()` and outcomes give.
 */
export interface JobDefinition<In, V, R, O> {
  /** `job` for one handler, `steps` for a multi-step job. */
  readonly kind: "job" | "steps";
  /** The queue's name. */
  readonly queue: string;
  /** The dead-letter queue's name, or null. */
  readonly dlq: string | null;
  /** @internal */
  readonly input: Codec<In, V>;
  /** @internal */
  readonly output: Codec<R, O>;
  /** Task options stored with every task. */
  readonly options: TaskOptionsInput;
  /** Per-input option overrides. */
  readonly optionsFor: ((input: V) => TaskOptionsInput) | undefined;
  /** The queue's rate limit as defined (an operator's setting may override it), or null. */
  readonly rateLimit: RateLimit | null;
  /** How many times one task may snooze before its next snooze fails it. */
  readonly maxSnoozes: number;
  /** The queue's cap on pending tasks as defined (an operator's setting may override it), or null. */
  readonly maxPending: number | null;
  /** At most one progress write and one log batch per this many ms per running task. */
  readonly progressIntervalMs: number;
  /** Log lines kept per attempt. */
  readonly maxLogLines: number;
  /** Longest log line kept. */
  readonly maxLogLineLength: number;
  /**
   * @internal The schemas as given, so that a client can tell two
   * definitions of one queue that read its tasks the same way (the same
   * schema objects) from two that do not.
   */
  readonly schemas: { readonly input: unknown; readonly output: unknown };
}

/** A one-handler task type; see {@link defineJob}. */
export interface TaskDefinition<In, V, R, O> extends JobDefinition<In, V, R, O> {
  /** Always `job`. */
  readonly kind: "job";
}

/** A multi-step job type; see {@link defineStepJob}. `O` is the output of its last step. */
export interface StepJobDefinition<In, V, R, O> extends JobDefinition<In, V, R, O> {
  /** Always `steps`. */
  readonly kind: "steps";
}

// codecOf tells an io-ts codec from a Standard Schema; here only that it is one of the two kinds of thing.
const schemaRule: OptionRule = {
  is: (value) => typeof value === "object" || typeof value === "function",
  expected: "an io-ts codec or a Standard Schema",
};

// One attempt's log lines, whole: 100 MB of UTF-16 text, at most 300 MB as UTF-8.
const maxLogCharacters = 100_000_000;

const definitionShape = {
  queue: "string",
  dlq: "string",
  input: schemaRule,
  output: schemaRule,
  options: { shape: taskOptionShape },
  optionsFor: "function",
  // Checked whole by checkRateLimit (both fields required).
  rateLimit: { type: "object", nullable: true },
  maxSnoozes: { type: "integer", min: 0, max: int32 },
  maxPending: { type: "integer", min: 0, max: int32, nullable: true },
  progressIntervalMs: { type: "integer", min: 10, max: 3_600_000 },
  maxLogLines: { type: "integer", min: 1, max: 100_000 },
  maxLogLineLength: { type: "integer", min: 100, max: 1_000_000 },
} as const;

const build = <K extends "job" | "steps", S extends Schema, OS extends Schema | undefined>(
  kind: K,
  config: DefinitionConfig<S, OS>,
) => {
  checkOptionShape(kind === "job" ? "defineJob" : "defineStepJob", config, definitionShape);
  const queue = checkQueueName(config.queue);
  const dlq = config.dlq === undefined ? null : checkQueueName(config.dlq);
  if (dlq === queue) throw new ConfigError(`queue ${queue} cannot be its own dead-letter queue`);
  // Validated now, so a bad option fails where it is written, not at the first enqueue.
  const resolved = resolveTaskOptions(config.options);
  // A run's later steps are written by the completion of the step before,
  // which knows no window and no debounce: refused here rather than there.
  if (kind === "steps" && (resolved.uniqueForMs !== null || resolved.debounceMs !== null))
    throw new ConfigError(
      "defineStepJob: options.uniqueForMs and options.debounceMs apply to tasks, not to multi-step job runs",
    );
  const rateLimit =
    config.rateLimit === undefined || config.rateLimit === null
      ? null
      : checkRateLimit(kind === "job" ? "defineJob" : "defineStepJob", config.rateLimit);
  const maxLogLines = config.maxLogLines ?? defaultReportLimits.maxLogLines;
  const maxLogLineLength = config.maxLogLineLength ?? defaultReportLimits.maxLogLineLength;
  // An attempt's log is kept in memory until written, in one INSERT: bounded
  // whole, so that it cannot pass PostgreSQL's 1 GB limit on one value and
  // be dropped at every try.
  if (maxLogLines * maxLogLineLength > maxLogCharacters)
    throw new ConfigError(
      `${kind === "job" ? "defineJob" : "defineStepJob"}: maxLogLines × maxLogLineLength may be at most ${maxLogCharacters.toLocaleString("en-US")} characters per attempt, got ${maxLogLines} × ${maxLogLineLength}`,
    );
  return Object.freeze({
    kind,
    queue,
    dlq,
    input: codecOf(config.input, `the input schema of queue ${queue}`),
    output:
      config.output === undefined
        ? jsonCodec()
        : codecOf(config.output, `the output schema of queue ${queue}`),
    options: config.options ?? {},
    optionsFor: config.optionsFor,
    rateLimit,
    maxSnoozes: config.maxSnoozes ?? defaultMaxSnoozes,
    maxPending: config.maxPending ?? null,
    progressIntervalMs: config.progressIntervalMs ?? defaultReportLimits.progressIntervalMs,
    maxLogLines,
    maxLogLineLength,
    schemas: Object.freeze({ input: config.input, output: config.output }),
  }) as unknown as { kind: K } & JobDefinition<SchemaInput<S>, SchemaOutput<S>, ReturnOf<OS>, OutputOf<OS>>;
};

/**
 * Defines a task type with one handler. Put it in a module that both the
 * process that enqueues and the process that works import.
 *
 * @example
 * // tasks.ts
 * export const welcomeEmail = defineJob({
 *   queue: "email",
 *   dlq: "email_dlq",
 *   input: t.type({ userId: t.number, email: t.string }),
 *   output: t.type({ sentAt: DateFromISOString }),
 *   options: { retry: { maxAttempts: 3 } },
 * });
 * // api.ts:    await underway.job(welcomeEmail).enqueue({ userId: 42, email: "ferris@example.com" });
 * // worker.ts: underway.job(welcomeEmail).start(async ({ email }) => ({ sentAt: await send(email) }));
 */
export const defineJob = <S extends Schema, OS extends Schema | undefined = undefined>(
  config: DefinitionConfig<S, OS>,
): TaskDefinition<SchemaInput<S>, SchemaOutput<S>, ReturnOf<OS>, OutputOf<OS>> => build("job", config);

/**
 * Defines a multi-step job type: `input` is the first step's input, `output`
 * the schema of the last step's `done` value. The worker attaches the steps
 * with `Steps.of(definition).step(…)…`; producers only enqueue.
 *
 * @example
 * export const signup = defineStepJob({ queue: "signup", input: Signup });
 * await underway.job(signup).enqueue({ userId: 1, email: "ferris@example.com" });
 */
export const defineStepJob = <S extends Schema, OS extends Schema | undefined = undefined>(
  config: DefinitionConfig<S, OS>,
): StepJobDefinition<SchemaInput<S>, SchemaOutput<S>, ReturnOf<OS>, OutputOf<OS>> => build("steps", config);
