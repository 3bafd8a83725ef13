import { isFanOut } from "../db/fanOutQueries.ts";
import type { ClaimedRow } from "../db/claimQueries.ts";
import { snoozeLimitFailure } from "../worker/record.ts";
import { randomUUID } from "node:crypto";
import * as E from "fp-ts/lib/Either.js";
import type { StepJobDefinition, TaskDefinition } from "../definition.ts";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import { taskColumns } from "../enqueue/taskColumns.ts";
import { ConfigError, ValidationError, type AbortError, type TaskFailure } from "../errors.ts";
import { checkJobId, checkTaskId } from "../identifier.ts";
import { checkOptionShape } from "../optionShape.ts";
import { resolveTaskOptions, taskOptionShape, type TaskOptionsInput } from "../options.ts";
import { handlerRunner, type TaskRunner } from "../run/taskRunner.ts";
import { stepRunner } from "../steps/stepRunner.ts";
import type { StepOutput, Steps } from "../steps/steps.ts";
import type { Handler } from "../worker/execute.ts";
import type { TransactionClient } from "../worker/guardedClient.ts";
import {
  offlineRowOf,
  runOfflineAttempt,
  type OfflineVerdict,
  type PerformedReports,
} from "./offlineAttempt.ts";

/** What {@link perform} takes besides the definition, the handler and the input; all optional. */
export interface PerformOptions {
  /** The attempt the handler is told it runs (`ctx.attempt`), from 1: test the last attempt's behaviour. Default 1. */
  readonly attempt?: number | undefined;
  /**
   * How many times the task snoozed before this run (a multi-step job's
   * first step): a snooze at the definition's `maxSnoozes` is the failure a
   * worker records. Default 0.
   */
  readonly snoozes?: number | undefined;
  /** `ctx.taskId` (a positive integer as a string); a multi-step job's later steps count on from it. Default "1". */
  readonly taskId?: string | undefined;
  /** A multi-step job's `ctx.jobId` (a UUID). Default: a new one. */
  readonly jobId?: string | undefined;
  /**
   * Task options over the definition's and its `optionsFor`, as an
   * enqueue's are (a short `timeoutMs` to test a timeout, `retry.maxAttempts`).
   * For a multi-step job, the first step's: later steps take their own.
   */
  readonly taskOptions?: TaskOptionsInput | undefined;
  /** Aborting it cancels the task while it runs, as `job.cancel(id)` would: its signal fires. */
  readonly signal?: AbortSignal | undefined;
  /**
   * `ctx.tx` of a `transactional` handler or step: a pg client of
   * your own (in a transaction your test rolls back, say). Without it,
   * `ctx.tx` rejects every query with a `NoDatabaseError`.
   */
  readonly tx?: TransactionClient | undefined;
}

/** @internal perform's options, by name (./performBatch.ts takes most of them). */
export const performOptionShape = {
  attempt: { type: "integer", min: 1, max: 2_147_483_647 },
  snoozes: { type: "integer", min: 0, max: 2_147_483_647 },
  taskId: "string",
  jobId: "string",
  taskOptions: { shape: taskOptionShape },
  signal: "AbortSignal",
  tx: {
    is: (value: unknown) =>
      typeof value === "object" && value !== null && typeof (value as TransactionClient).query === "function",
    expected: "a pg client (with a query method)",
  },
} as const;

/**
 * A failed attempt, as the worker classifies it: `kind` is what its
 * attempt history records, `retryable` whether the retry policy applies
 * (everything but a `FatalError` and an input or output its schema
 * refuses), `willRetry` whether this attempt leaves retries (it is not the
 * last of `retry.maxAttempts`).
 */
export interface PerformFailed {
  /** Discriminant: always `"failed"`. */
  readonly _tag: "failed";
  /** `Retryable` (threw), `Fatal` (a `FatalError`, an input or output its schema refuses), `TimedOut`. */
  readonly kind: TaskFailure["_tag"];
  /**
   * What failed it: the value the handler threw, as is; the `AbortError`
   * of a timeout; the `ValidationError` of an input the schema refuses;
   * otherwise an Error with the recorded name and message.
   */
  readonly error: unknown;
  /** The error's name as the attempt records it (`"FatalError"`, `"AbortError"`, `"ValidationError"`). */
  readonly name: string;
  /** The error's message as the attempt records it. */
  readonly message: string;
  /** Whether the retry policy applies to this failure (not a fatal one). */
  readonly retryable: boolean;
  /** Whether the worker would run the task again: retryable, and attempts left. */
  readonly willRetry: boolean;
}

/**
 * The handler snoozed (`snooze(ms)`): a worker puts the task back to
 * pending for `delayMs` without spending an attempt, and runs it again
 * then (perform does not: call it again to run the next time). A snooze
 * past the definition's `maxSnoozes` is a failure instead, as a worker
 * records it (`snoozes` option: how many the task made before).
 */
export interface PerformSnoozed {
  /** Discriminant: always `"snoozed"`. */
  readonly _tag: "snoozed";
  /** How long the task sleeps before it runs again. */
  readonly delayMs: number;
}

/** Cancelled while it ran (the `signal` option fired): the task ends cancelled, whatever the handler returned. */
export interface PerformCancelled {
  /** Discriminant: always `"cancelled"`. */
  readonly _tag: "cancelled";
}

/**
 * How {@link perform} ran a one-handler task: its output as `result()`
 * would give it, or how it failed; and, whatever the outcome, what the
 * handler reported (`progress`, `logs`, `logsCut`).
 */
export type Performed<O> = PerformedReports &
  (
    | {
        /** Discriminant: the handler resolved and its output passed the output schema. */
        readonly _tag: "succeeded";
        /** The output as readers get it (`job.result(id)`): stored as JSON, decoded by the output schema. */
        readonly output: O;
      }
    | PerformFailed
    | PerformSnoozed
    | PerformCancelled
  );

/** One step of a multi-step job as {@link perform} ran it, with what it reported (`progress`, `logs`, `logsCut`). */
export interface PerformedStep extends PerformedReports {
  /** 0-based. */
  readonly stepIndex: number;
  /** The step's `ctx.taskId`. */
  readonly taskId: string;
  /** What the step received: the first step its decoded input, later ones the previous `next` value as stored (JSON). */
  readonly input: unknown;
  /**
   * What it returned, as stored: `next` with the value handed on and the
   * delay before the next step may run, or `done` with the job's output
   * as JSON. Undefined when the step failed or was cancelled.
   */
  readonly returned: StepOutput | undefined;
}

/** One child a step's fan-out asked for, as {@link perform} captured it (not run). */
export interface PerformedChild {
  /** The child's queue. */
  readonly queue: string;
  /** Its input as it would be stored (JSON). */
  readonly input: unknown;
}

/**
 * A step returned `fanOut(children)`: perform stops there and captures the
 * request instead of running the children (run each child's handler with
 * perform, and the next step with the results you choose).
 */
export interface PerformFannedOut {
  /** Discriminant: always `"fannedOut"`. */
  readonly _tag: "fannedOut";
  /** The step that fanned out. */
  readonly stepIndex: number;
  /** The children, in order. */
  readonly children: ReadonlyArray<PerformedChild>;
  /** The fan-out's policy. */
  readonly onChildFailure: "fail" | "continue";
}

/** What every result of a multi-step job's {@link perform} tells. */
export interface PerformedRunBase {
  /** `ctx.jobId` of every step. */
  readonly jobId: string;
  /** Each step run, in order, the last one the one that ended the run. */
  readonly steps: ReadonlyArray<PerformedStep>;
}

/** How {@link perform} ran a multi-step job: step by step to its output, or to the step that failed. */
export type PerformedRun<O> = PerformedRunBase &
  (
    | {
        /** Discriminant: a step returned `done` (or the last step returned). */
        readonly _tag: "succeeded";
        /** The job's output as `result()` would give it, decoded by the output schema. */
        readonly output: O;
      }
    | (PerformFailed & {
        /** The step that failed. */
        readonly stepIndex: number;
      })
    | PerformFannedOut
    | (PerformCancelled & {
        /** The step that was running. */
        readonly stepIndex: number;
      })
    | (PerformSnoozed & {
        /** The step that snoozed: a worker runs it again after `delayMs`. */
        readonly stepIndex: number;
      })
  );

const recordedError = (failure: TaskFailure): Error => {
  const error = new Error(failure.message);
  Object.defineProperty(error, "name", { value: failure.name });
  return error;
};

const failedOf = (
  failure: TaskFailure,
  ran: OfflineVerdict<unknown>,
  attempt: number,
  maxAttempts: number,
): PerformFailed => {
  const byHandler = failure._tag === "Retryable" || failure._tag === "Fatal";
  const error: unknown =
    failure._tag === "TimedOut"
      ? (ran.aborted as AbortError)
      : byHandler && ran.thrown !== undefined
        ? ran.thrown.value
        : recordedError(failure);
  const retryable = failure._tag !== "Fatal";
  return {
    _tag: "failed",
    kind: failure._tag,
    error,
    name: failure.name,
    message: failure.message,
    retryable,
    willRetry: retryable && attempt < maxAttempts,
  };
};

/**
 * A verdict other than success: a snooze (or, past `maxSnoozes`, the
 * failure a worker records instead: src/worker/record.ts), or a failure.
 */
const notDone = (
  definition: { readonly maxSnoozes: number },
  failure: TaskFailure,
  ran: OfflineVerdict<unknown>,
  row: ClaimedRow,
): PerformSnoozed | PerformFailed => {
  if (failure._tag !== "Snoozed") return failedOf(failure, ran, row.attempt, row.maxAttempts);
  if (row.snoozes >= definition.maxSnoozes)
    return failedOf(snoozeLimitFailure(row, definition.maxSnoozes), ran, row.attempt, row.maxAttempts);
  return { _tag: "snoozed", delayMs: failure.snoozeMs ?? 0 };
};

// What the worker records for an input its schema refuses (src/worker/execute.ts):
// a fatal ValidationError; the enqueue would have refused it the same way.
const refusedInput = (queue: string, error: ValidationError["decodeError"]): PerformFailed => {
  const refused = new ValidationError(`invalid input for queue ${queue}`, error);
  return {
    _tag: "failed",
    kind: "Fatal",
    error: refused,
    name: refused.name,
    message: `input failed its codec: ${error.message}`,
    retryable: false,
    willRetry: false,
  };
};

// A handler that never ran reported nothing.
const noReports: PerformedReports = { progress: [], logs: [], logsCut: 0 };

const nextId = (taskId: string, steps: number): string => (BigInt(taskId) + BigInt(steps)).toString();

/** @internal Checks perform's options (./performBatch.ts checks its own with it). */
export const checked = (options: PerformOptions): PerformOptions => {
  checkOptionShape("perform options", options, performOptionShape);
  if (options.taskId !== undefined) checkTaskId(options.taskId);
  if (options.jobId !== undefined) checkJobId(options.jobId);
  if (options.taskOptions !== undefined) resolveTaskOptions(options.taskOptions);
  return options;
};

/**
 * Runs a task's handler once, in this process, without a database, as a
 * worker would run it: the input checked and stored as JSON (what the
 * enqueue does) and decoded by the definition's schema, a `TaskContext`
 * like a worker's (`taskId`, `queue`, `attempt`, `maxAttempts`, `signal`),
 * the task's timeout, and the result classified as the worker does (a
 * `FatalError` or an input its schema refuses is not retried; anything else
 * thrown is). Nothing is left running: no timer, no connection.
 *
 * Given a multi-step job definition and its `Steps`, it runs step after
 * step, each with the value the previous one handed on (as JSON, as it is
 * stored), without waiting for a `nextAfter` delay, until a step returns
 * `done`, the last step returns, or a step fails.
 *
 * @example
 * const result = await perform(welcomeEmail, sendWelcome, { userId: 42, email: "ferris@example.com" });
 * assert.equal(result._tag, "succeeded");
 */
export function perform<In, V, R, O>(
  definition: TaskDefinition<In, V, R, O>,
  handler: Handler<V, R>,
  input: In,
  options?: PerformOptions,
): Promise<Performed<O>>;
/** Runs a multi-step job's steps, from its first step's input to its output or a failure. */
export function perform<In, V, R, O, S>(
  definition: StepJobDefinition<In, V, R, O>,
  steps: Steps<V, unknown, R, S, R>,
  input: In,
  options?: PerformOptions,
): Promise<PerformedRun<O>>;
export async function perform<In, V, R, O, S>(
  definition: TaskDefinition<In, V, R, O> | StepJobDefinition<In, V, R, O>,
  work: Handler<V, R> | Steps<V, unknown, R, S, R>,
  input: In,
  options: PerformOptions = {},
): Promise<Performed<O> | PerformedRun<O>> {
  checked(options);
  if (definition.kind === "steps") {
    if (typeof work === "function")
      throw new ConfigError(
        `perform: queue ${definition.queue} is a multi-step job: give its Steps (Steps.of(definition)…), not a handler`,
      );
    return performRun(definition, work, input, options);
  }
  if (typeof work !== "function")
    throw new ConfigError(`perform: queue ${definition.queue} takes a handler, not Steps`);
  return performTask(definition, work, input, options);
}

const performTask = <In, V, R, O>(
  definition: TaskDefinition<In, V, R, O>,
  handler: Handler<V, R>,
  input: In,
  options: PerformOptions,
): Promise<Performed<O>> =>
  performTaskWith(definition, handlerRunner(definition, handler), input, options, options.taskId ?? "1");

/**
 * @internal One task of `definition` run offline through `runner` (a
 * handler's, or a batch handler's batching: ./performBatch.ts), with the
 * id `taskId`, classified as a worker would.
 */
export const performTaskWith = async <In, V, R, O>(
  definition: TaskDefinition<In, V, R, O>,
  runner: TaskRunner<V, O>,
  input: In,
  options: PerformOptions,
  taskId: string,
): Promise<Performed<O>> => {
  const stored = definition.input.check(input);
  if (E.isLeft(stored)) return { ...noReports, ...refusedInput(definition.queue, stored.left) };
  const columns = taskColumns(definition, [stored.right], options.taskOptions);
  const row = offlineRowOf(columns, taskId, options.attempt ?? 1, options.snoozes ?? 0);
  const ran = await runOfflineAttempt(definition, runner, row, options);
  const { reports } = ran;
  if (ran.aborted?.kind === "cancelled") return { ...reports, _tag: "cancelled" };
  if (E.isLeft(ran.verdict)) return { ...reports, ...notDone(definition, ran.verdict.left, ran, row) };
  return { ...reports, _tag: "succeeded", output: ran.verdict.right.output };
};

const performRun = async <In, V, R, O, S>(
  definition: StepJobDefinition<In, V, R, O>,
  chain: Steps<V, unknown, R, S, R>,
  input: In,
  options: PerformOptions,
): Promise<PerformedRun<O>> => {
  const runner: TaskRunner<V, StepOutput> = stepRunner(definition, chain);
  const jobId = options.jobId ?? randomUUID();
  const steps: PerformedStep[] = [];
  const stored = definition.input.check(input);
  if (E.isLeft(stored)) return { ...refusedInput(definition.queue, stored.left), jobId, steps, stepIndex: 0 };
  let columns: EnqueueColumns = taskColumns(definition, [stored.right], options.taskOptions, {
    jobId,
    stepIndex: 0,
  });
  for (;;) {
    const stepIndex = steps.length;
    const row = offlineRowOf(
      columns,
      nextId(options.taskId ?? "1", stepIndex),
      options.attempt ?? 1,
      stepIndex === 0 ? (options.snoozes ?? 0) : 0,
    );
    const ran = await runOfflineAttempt(definition, runner, row, options);
    const stepInput = stepIndex === 0 ? stored.right.value : row.input;
    if (ran.aborted?.kind === "cancelled") {
      steps.push({ ...ran.reports, stepIndex, taskId: row.id, input: stepInput, returned: undefined });
      return { _tag: "cancelled", jobId, steps, stepIndex };
    }
    if (E.isLeft(ran.verdict)) {
      steps.push({ ...ran.reports, stepIndex, taskId: row.id, input: stepInput, returned: undefined });
      return { ...notDone(definition, ran.verdict.left, ran, row), jobId, steps, stepIndex };
    }
    const { output, next } = ran.verdict.right;
    steps.push({ ...ran.reports, stepIndex, taskId: row.id, input: stepInput, returned: output });
    if (next !== undefined && isFanOut(next)) {
      return {
        _tag: "fannedOut",
        jobId,
        steps,
        stepIndex,
        onChildFailure: next.policy,
        children: next.queues.map((queue, index) => ({
          queue,
          input: JSON.parse(next.children.inputs[index] ?? "null") as unknown,
        })),
      };
    }
    // A fan-out of no children continues at once with an empty list, as in a worker.
    if (next !== undefined) {
      columns = next;
      continue;
    }
    if (output._tag === "fanOut") throw new ConfigError("a fan-out with no step after it");
    // The job's output as result() reads it: the stored done value, decoded.
    const loaded = definition.output.load(output.value);
    if (E.isLeft(loaded)) {
      const failure: TaskFailure = {
        _tag: "Fatal",
        name: "ValidationError",
        message: `output failed its codec: ${loaded.left.message}`,
        stack: null,
      };
      return { ...failedOf(failure, ran, row.attempt, row.maxAttempts), jobId, steps, stepIndex };
    }
    return { _tag: "succeeded", output: loaded.right, jobId, steps };
  }
};
