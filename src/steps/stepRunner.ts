import * as E from "fp-ts/lib/Either.js";
import type { StepJobDefinition } from "../definition.ts";
import { taskColumns } from "../enqueue/taskColumns.ts";
import { ConfigError, UnderwayError, ValidationError } from "../errors.ts";
import { jsonProblem } from "../json.ts";
import type { ClaimedRow } from "../db/claimQueries.ts";
import { firstRowOf, optionColumns, type EnqueueColumns } from "../db/enqueueColumns.ts";
import type { TaskRunner } from "../run/taskRunner.ts";
import type { TaskContext } from "../worker/execute.ts";
import { isTransactional } from "../worker/transactional.ts";
import { stepOptionsFor, type FannedOut, type StepDefinition, type StepOutput, type Steps } from "./steps.ts";
import type { FanOut } from "./fanOut.ts";
import type { Continuation } from "../db/fanOutQueries.ts";
import type { EnqueueOptions } from "../enqueue/enqueueOptions.ts";
import { concatColumns } from "../enqueue/concatColumns.ts";
import { keyColumnSet } from "../enqueue/keyColumnSet.ts";

/**
 * How a chain's step tasks run: one handler that runs the step named by the
 * task's index; the first step's input decoded by the definition's schema
 * (later inputs were produced by the previous step of this same code); what
 * a step returns checked (a `done` value against the output schema); a
 * `next` value continued as the next step's row, written in the statement
 * that completes this one. Only steps marked `transactional` hold a
 * connection while they run.
 */
export const stepRunner = <In, V, R, O, S>(
  definition: StepJobDefinition<In, V, R, O>,
  steps: Steps<V, unknown, R, S, R>,
): TaskRunner<V, StepOutput> => {
  const { queue } = definition;
  const chain = steps.steps;
  const stepCount = chain.length;
  if (stepCount === 0) throw new ConfigError(`the job on queue ${queue} needs at least one step`);
  if (steps.queue !== queue)
    throw new ConfigError(`steps built for queue ${steps.queue} cannot run on queue ${queue}`);
  const state = steps.state;
  const handler = async (input: unknown, context: TaskContext): Promise<unknown> => {
    const index = context.stepIndex ?? 0;
    const step = chain[index];
    if (step === undefined || context.jobId === null) {
      throw new UnderwayError(`task ${context.taskId} names step ${index} of a ${stepCount}-step job`);
    }
    // The spread keeps a transactional step's `tx`.
    return step.run(input, { ...context, jobId: context.jobId, stepIndex: index, stepCount, state });
  };
  const input = definition.input;
  const transactional = chain.some((step) => isTransactional(step.run))
    ? (row: ClaimedRow) => isTransactional(chain[row.stepIndex ?? 0]?.run)
    : undefined;
  // A fan-out's children, by the stored output that stands for it, from the
  // check of what the step returned to the building of its continuation.
  const fanOuts = new WeakMap<StepOutput, FanOut<unknown>>();
  return {
    handler,
    decodeInput: (value, row) => ((row.stepIndex ?? 0) === 0 ? input.load(value) : E.right(value as V)),
    continuation: (output, row) => {
      const requested = fanOuts.get(output);
      return requested === undefined
        ? nextStepColumns(definition, output, row, chain)
        : fanOutContinuation(definition, requested, row, chain);
    },
    encodeOutput: (returned, row) => {
      if (isFanOutRequest(returned)) {
        const stored = checkFanOut(definition, returned, row, chain);
        fanOuts.set(stored, returned);
        return { value: stored, stored, json: JSON.stringify(stored) };
      }
      return checkStepOutput(definition, returned, row, stepCount);
    },
    ...(transactional === undefined ? {} : { transactional }),
  };
};

/** What a step returned, checked; a `done` (or last) value against the definition's output schema. */
const checkStepOutput = <In, V, R, O>(
  definition: StepJobDefinition<In, V, R, O>,
  returned: unknown,
  row: ClaimedRow,
  stepCount: number,
) => {
  const { queue } = definition;
  const output = returned as StepOutput;
  if (typeof output !== "object" || output === null || (output._tag !== "next" && output._tag !== "done"))
    throw new UnderwayError(
      "a step must return next(value), nextAfter(value, ms), done(value) or fanOut(children)",
    );
  const index = row.stepIndex ?? 0;
  const last = output._tag === "done" || index >= stepCount - 1;
  if (last) {
    // The job's output: checked against the definition's output schema.
    const checked = definition.output.check(output.value as R);
    if (E.isLeft(checked)) throw new ValidationError(`output of job on queue ${queue}`, checked.left);
    const stored: StepOutput = { _tag: "done", value: checked.right.stored };
    return { value: stored, stored, json: JSON.stringify(stored) };
  }
  const problem = jsonProblem(output.value);
  if (problem !== undefined)
    throw new ValidationError(
      `value step ${index + 1} of ${stepCount} (queue ${queue}) hands to the next step`,
      {
        _tag: "DecodeError",
        paths: [problem.path],
        message: `${problem.path}: ${problem.message}`,
      },
    );
  return { value: output, stored: output, json: JSON.stringify(output) };
};

/** The next step's row for a `next` value: the run's id, the next index, that step's options. */
const nextStepColumns = <In, V, R, O>(
  definition: StepJobDefinition<In, V, R, O>,
  output: StepOutput,
  row: ClaimedRow,
  steps: ReadonlyArray<StepDefinition>,
): EnqueueColumns | undefined => {
  const nextIndex = (row.stepIndex ?? 0) + 1;
  if (output._tag !== "next" || nextIndex >= steps.length || row.jobId === null) return undefined;
  const step = steps[nextIndex];
  return stepRow(definition, step, output.value, output.delayMs, row.jobId, nextIndex);
};

/** Step `index` of a run as a task row with `value` as its input, due in `delayMs`. */
const stepRow = <In, V, R, O>(
  definition: StepJobDefinition<In, V, R, O>,
  step: StepDefinition | undefined,
  value: unknown,
  delayMs: number,
  jobId: string,
  index: number,
): EnqueueColumns => {
  // The definition's optionsFor reads the first step's input, which is not
  // this one: it must not run on it (it would fail on a missing field, or
  // give every run the same "user:undefined" key). The step's own options
  // are computed from its own input.
  return taskColumns(
    { options: definition.options, optionsFor: undefined },
    [{ value, stored: value, json: JSON.stringify(value) }],
    {
      ...(step === undefined ? undefined : stepOptionsFor(definition.queue, step, value)),
      delayMs,
    },
    { jobId, stepIndex: index },
  );
};

const isFanOutRequest = (returned: unknown): returned is FanOut<unknown> =>
  typeof returned === "object" && returned !== null && (returned as { _tag?: unknown })._tag === "fanOut";

/**
 * A fan-out returned by a step, checked: a step follows it (its results go
 * there) whose options do not depend on its input (known only when the
 * children have ended, in PostgreSQL), and the step is not transactional
 * (its completion is the fan-out's own statement). Its stored form.
 */
const checkFanOut = <In, V, R, O>(
  definition: StepJobDefinition<In, V, R, O>,
  returned: FanOut<unknown>,
  row: ClaimedRow,
  steps: ReadonlyArray<StepDefinition>,
): FannedOut => {
  const { queue } = definition;
  const index = row.stepIndex ?? 0;
  const following = steps[index + 1];
  if (following === undefined)
    throw new ConfigError(
      `step ${index + 1} of ${steps.length} (queue ${queue}) fanned out, but no step follows it to receive the children's results`,
    );
  if (typeof following.options === "function")
    throw new ConfigError(
      `step ${index + 2} of queue ${queue} follows a fan-out: its options must be fixed, not computed from its input (the children's results, known only when they end)`,
    );
  if (isTransactional(steps[index]?.run))
    throw new ConfigError(`step ${index + 1} of queue ${queue} is transactional: it cannot fan out`);
  if (row.jobId === null) throw new UnderwayError(`task ${row.id} fanned out but belongs to no job`);
  return { _tag: "fanOut", children: returned.children.length, onChildFailure: returned.onChildFailure };
};

/**
 * What completing a step that fanned out writes: with no children, the next
 * step with an empty list; otherwise the children's rows (each of its own
 * definition, with its options) and the next step's columns, kept in
 * PostgreSQL until the last child ends (0023_fan_in.sql).
 */
const fanOutContinuation = <In, V, R, O>(
  definition: StepJobDefinition<In, V, R, O>,
  request: FanOut<unknown>,
  row: ClaimedRow,
  steps: ReadonlyArray<StepDefinition>,
): Continuation => {
  const index = (row.stepIndex ?? 0) + 1;
  const jobId = row.jobId ?? "";
  const step = steps[index];
  if (request.children.length === 0) return stepRow(definition, step, [], 0, jobId, index);
  const next = stepRow(definition, step, null, 0, jobId, index);
  const perChild = request.children.map((item) =>
    taskColumns(item.definition, [item.input], item.options as EnqueueOptions | undefined),
  );
  const children = concatColumns(perChild);
  const keyed = keyColumnSet(children);
  if (keyed !== undefined)
    throw new ConfigError(
      `a child of a fan-out (queue ${definition.queue}) may not have ${keyed}: each child is a new task of its own`,
    );
  return {
    _tag: "fanOut",
    policy: request.onChildFailure,
    nextStepIndex: index,
    nextStep: JSON.stringify(firstRowOf(optionColumns, next)),
    batchTtlMs: Math.max(...children.ttlMs, ...next.ttlMs),
    queues: request.children.map((item) => item.queue),
    children,
  };
};
