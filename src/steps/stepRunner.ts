import * as E from "fp-ts/lib/Either.js";
import type { StepJobDefinition } from "../definition.ts";
import { taskColumns } from "../enqueue/taskColumns.ts";
import { ConfigError, UnderwayError, ValidationError } from "../errors.ts";
import { jsonProblem } from "../json.ts";
import type { ClaimedRow } from "../db/claimQueries.ts";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import type { TaskRunner } from "../run/taskRunner.ts";
import type { TaskContext } from "../worker/execute.ts";
import { isTransactional } from "../worker/transactional.ts";
import { stepOptionsFor, type StepDefinition, type StepOutput, type Steps } from "./steps.ts";

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
  const handler = async (input: unknown, context: TaskContext): Promise<StepOutput> => {
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
  return {
    handler,
    decodeInput: (value, row) => ((row.stepIndex ?? 0) === 0 ? input.load(value) : E.right(value as V)),
    continuation: (output, row) => nextStepColumns(definition, output, row, chain),
    encodeOutput: (returned, row) => checkStepOutput(definition, returned, row, stepCount),
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
    throw new UnderwayError("a step must return next(value), nextAfter(value, ms) or done(value)");
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
  // The definition's optionsFor reads the first step's input, which is not
  // this one: it must not run on it (it would fail on a missing field, or
  // give every run the same "user:undefined" key). The step's own options
  // are computed from its own input.
  return taskColumns(
    { options: definition.options, optionsFor: undefined },
    [{ value: output.value, stored: output.value, json: JSON.stringify(output.value) }],
    {
      ...(step === undefined ? undefined : stepOptionsFor(definition.queue, step, output.value)),
      delayMs: output.delayMs,
    },
    { jobId: row.jobId, stepIndex: nextIndex },
  );
};
