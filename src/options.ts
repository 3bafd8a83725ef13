import { ConfigError } from "./errors.ts";
import { jsonProblem } from "./json.ts";
import { checkOptionShape, type OptionShape } from "./optionShape.ts";
import { defaultRetryPolicy, type RetryPolicy } from "./retry.ts";

/** Options of a task; every field has a default. */
export interface TaskOptions {
  /** How failed attempts are retried. Default {@link defaultRetryPolicy}. */
  readonly retry: RetryPolicy;
  /** The handler's `AbortSignal` fires after this; the attempt counts as timed out. Default 15 min. */
  readonly timeoutMs: number;
  /** How long a finished task is kept before the retention sweep deletes it. Default 14 days. */
  readonly ttlMs: number;
  /** Delay before the task may run. Default 0. */
  readonly delayMs: number;
  /** Lease length; a running task's lease is renewed several times within it. At least 1 s. Default 30 s. */
  readonly heartbeatMs: number;
  /** Tasks sharing a key run one at a time (or `concurrencyLimit` at a time) across all workers. */
  readonly concurrencyKey: string | null;
  /** How many tasks of one concurrency key may run at once. Default 1. */
  readonly concurrencyLimit: number;
  /** While a task with this key is pending or running, enqueue returns its id instead of adding one. */
  readonly uniqueKey: string | null;
  /**
   * Throttle: the `uniqueKey` stays claimed for this many milliseconds from
   * the enqueue that created its task, even after the task ended; an
   * enqueue of the key meanwhile returns that task's id (status
   * "throttled"). Needs a `uniqueKey`. Default null (docs/flow-control.md).
   */
  readonly uniqueForMs: number | null;
  /**
   * Debounce: an enqueue of a `uniqueKey` whose task is still pending
   * replaces that task's input with its own and pushes its start back to
   * now plus this many milliseconds (status "debounced"); a burst runs once,
   * with the last input. Needs a `uniqueKey`. Default null (docs/flow-control.md).
   */
  readonly debounceMs: number | null;
  /**
   * The rate budget this task's starts count against, when its queue has a
   * rate limit (the definition's `rateLimit`): each key has a budget of its
   * own, the limit per period (per customer, per API token). Null: the
   * queue's own budget. Default null.
   */
  readonly rateLimitKey: string | null;
  /** Higher runs first within the task's group (across groups, they take turns). Default 0. */
  readonly priority: number;
  /**
   * The task's group (a tenant, a customer): claims take tasks round-robin
   * across the groups of a queue, so one group's backlog delays another's
   * task by at most about one claim. Default none (docs/flow-control.md).
   */
  readonly group: string | null;
  /**
   * A deadline for the task's first start, in milliseconds from its enqueue
   * (on the database's clock, like `delayMs`): a task no worker has claimed
   * by then never starts, and ends `cancelled` with the reason "not started
   * by <time>". Retries and snoozes after a first start are not bound by it.
   * Must exceed `delayMs`. Default none (docs/flow-control.md#deadlines).
   */
  readonly startWithinMs: number | null;
}

/** Any subset of the options, with a partial retry policy; an `undefined` field means the default. */
export type TaskOptionsInput = {
  readonly [K in Exclude<keyof TaskOptions, "retry">]?: TaskOptions[K] | undefined;
} & {
  /** Fields of the retry policy to change; the others keep their defaults. */
  readonly retry?: { readonly [K in keyof RetryPolicy]?: RetryPolicy[K] | undefined } | undefined;
};

/** Drops `undefined` fields, so a layer never overwrites a default with `undefined`. */
const defined = <T extends object>(value: T | undefined): Partial<T> =>
  Object.fromEntries(Object.entries(value ?? {}).filter(([, field]) => field !== undefined)) as Partial<T>;

/** The defaults of every task option, as in the seed crate. */
export const defaultTaskOptions: TaskOptions = {
  retry: defaultRetryPolicy,
  timeoutMs: 15 * 60_000,
  ttlMs: 14 * 24 * 3_600_000,
  delayMs: 0,
  heartbeatMs: 30_000,
  concurrencyKey: null,
  concurrencyLimit: 1,
  uniqueKey: null,
  uniqueForMs: null,
  debounceMs: null,
  rateLimitKey: null,
  priority: 0,
  group: null,
  startWithinMs: null,
};

const int32 = 2_147_483_647;

// Keys live in btree indexes, whose rows cannot exceed about 2.7 KB: a longer
// key was accepted, then made every claim on the queue fail. Bound them well
// below that, in bytes.
const maxKeyBytes = 512;

const check = (ok: boolean, what: string): void => {
  if (!ok) throw new ConfigError(`invalid task option: ${what}`);
};

/**
 * What is wrong with `key` as a key or group of a task (too long for an
 * index entry, not storable as JSON text, an empty group), or undefined.
 */
export const keyProblem = (name: string, key: string): string | undefined => {
  const shown = JSON.stringify(key.slice(0, 40)) + (key.length > 40 ? "…" : "");
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > maxKeyBytes)
    return `${name} must be at most ${maxKeyBytes} bytes of UTF-8, got ${bytes}: ${shown}`;
  const problem = jsonProblem(key);
  if (problem !== undefined) return `${name} ${problem.message}: ${shown}`;
  // The claim names the tasks without a group '' among the groups (db/migrations/0016_groups.sql).
  if (name === "group" && key === "") return "group must not be empty (give null for no group)";
  return undefined;
};

const checkKey = (name: string, key: string | null): void => {
  if (key === null) return;
  const problem = keyProblem(name, key);
  check(problem === undefined, problem ?? "");
};

/** The shortest lease a task may have. */
export const minHeartbeatMs = 1_000;

// Delays and lifetimes past this are mistakes (and past what a Date or a
// PostgreSQL interval holds comfortably).
const maxSpanMs = 100 * 365 * 24 * 3_600_000;

/**
 * Every task option, its type and range: each bound is what the column
 * holds (integer, bigint) and what makes sense. Definitions, `optionsFor`,
 * step options and enqueues are all checked against it.
 */
export const taskOptionShape: OptionShape = {
  retry: {
    shape: {
      maxAttempts: { type: "integer", min: 1, max: int32 },
      initialIntervalMs: { type: "integer", min: 0, max: int32 },
      maxIntervalMs: { type: "integer", min: 0, max: int32 },
      backoffCoefficient: { type: "number", min: 1, max: 1_000 },
      jitter: { type: "number", min: 0, max: 1 },
    },
  },
  timeoutMs: { type: "integer", min: 1, max: int32 },
  ttlMs: { type: "integer", min: 0, max: maxSpanMs },
  delayMs: { type: "number", min: 0, max: maxSpanMs },
  // A lease must outlast a few renewals plus a stalled event loop or a slow
  // round trip; shorter leases lapsed on a busy machine and failed healthy tasks.
  heartbeatMs: { type: "integer", min: minHeartbeatMs, max: int32 },
  concurrencyKey: { type: "string", nullable: true },
  concurrencyLimit: { type: "integer", min: 1, max: int32 },
  uniqueKey: { type: "string", nullable: true },
  uniqueForMs: { type: "integer", min: 1, max: int32, nullable: true },
  debounceMs: { type: "integer", min: 1, max: int32, nullable: true },
  rateLimitKey: { type: "string", nullable: true },
  priority: { type: "integer", min: -int32, max: int32 },
  group: { type: "string", nullable: true },
  startWithinMs: { type: "number", min: 1, max: maxSpanMs, nullable: true },
};

/** Layers option sets (later wins), each checked against {@link taskOptionShape}. */
export const resolveTaskOptions = (...layers: ReadonlyArray<TaskOptionsInput | undefined>): TaskOptions => {
  let options = defaultTaskOptions;
  for (const layer of layers) {
    if (layer === undefined) continue;
    checkOptionShape("invalid task option", layer, taskOptionShape);
    options = { ...options, ...defined(layer), retry: { ...options.retry, ...defined(layer.retry) } };
  }
  const { retry } = options;
  check(
    retry.maxIntervalMs >= retry.initialIntervalMs,
    `retry.maxIntervalMs (${retry.maxIntervalMs}) must be >= retry.initialIntervalMs (${retry.initialIntervalMs})`,
  );
  // A debounced task is due debounceMs after its enqueue (plus delayMs): a deadline before that is never met.
  const dueInMs = options.delayMs + (options.debounceMs ?? 0);
  check(
    options.startWithinMs === null || options.startWithinMs > dueInMs,
    options.debounceMs === null
      ? `startWithinMs (${options.startWithinMs}) must exceed delayMs (${options.delayMs}): the task could never start`
      : `startWithinMs (${options.startWithinMs}) must exceed delayMs + debounceMs (${dueInMs}): the task could never start`,
  );
  checkKey("concurrencyKey", options.concurrencyKey);
  checkKey("uniqueKey", options.uniqueKey);
  checkKey("group", options.group);
  checkKey("rateLimitKey", options.rateLimitKey);
  // Both act on the tasks of one key: without a key there is nothing to throttle or debounce.
  check(
    options.uniqueForMs === null || options.uniqueKey !== null,
    "uniqueForMs needs a uniqueKey (the key to throttle)",
  );
  check(
    options.debounceMs === null || options.uniqueKey !== null,
    "debounceMs needs a uniqueKey (the key to debounce)",
  );
  check(
    options.uniqueForMs === null || options.debounceMs === null,
    "give uniqueForMs (throttle) or debounceMs (debounce), not both",
  );
  // "" names the queue's own budget in rate_budget; a key of its own must differ.
  check(
    options.rateLimitKey !== "",
    "rateLimitKey must not be empty (null or no key: the queue's own budget)",
  );
  return options;
};
