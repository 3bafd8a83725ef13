import * as E from "fp-ts/lib/Either.js";
import type { OpsDeps } from "../client/clientDeps.ts";
import { describeThrown } from "../describeThrown.ts";
import { ConfigError, orThrow } from "../errors.ts";
import { checkOptionShape } from "../optionShape.ts";
import { isJobDefinition } from "./isJobDefinition.ts";
import type { CheckedDefinition, CheckInputsOptions, InputCheck, InputFailure } from "./types.ts";

type AnyDefinition = CheckedDefinition;

const checkInputsShape = {
  maxFailures: { type: "integer", min: 0, max: 100_000 },
  pageSize: { type: "integer", min: 1, max: 10_000 },
  pageBytes: { type: "integer", min: 1, max: 1_073_741_824 },
} as const;

/**
 * The decode error of one stored input by one definition, or undefined
 * when it decodes. A codec that throws (rather than returning a failure)
 * fails the task too: a worker's decode would throw the same way.
 */
const decodeProblem = (definition: AnyDefinition, stored: unknown): string | undefined => {
  try {
    const decoded = definition.input.load(stored);
    return E.isLeft(decoded) ? decoded.left.message : undefined;
  } catch (error) {
    const thrown = describeThrown(error);
    return `the input schema threw: ${thrown.name}: ${thrown.message}`;
  }
};

/**
 * The definitions of each queue that read its tasks differently: two
 * definitions with the same schema objects (one module re-exporting
 * another's) decode alike, so one of them is enough.
 */
const byQueue = (definitions: ReadonlyArray<AnyDefinition>): ReadonlyMap<string, AnyDefinition[]> => {
  const queues = new Map<string, AnyDefinition[]>();
  for (const definition of definitions) {
    const known = queues.get(definition.queue) ?? [];
    if (
      !known.some(
        (other) => other.kind === definition.kind && other.schemas.input === definition.schemas.input,
      )
    )
      known.push(definition);
    queues.set(definition.queue, known);
  }
  return queues;
};

/** A decode error's text, bounded: an array of a million bad items names each. */
const bounded = (text: string): string => (text.length > 1_000 ? `${text.slice(0, 1_000)}…` : text);

/** See {@link Ops.checkInputs}. */
export const checkInputs = async (
  deps: OpsDeps,
  definitions: ReadonlyArray<unknown>,
  options: CheckInputsOptions = {},
): Promise<InputCheck> => {
  checkOptionShape("checkInputs options", options, checkInputsShape);
  if (!Array.isArray(definitions))
    throw new ConfigError("checkInputs: definitions must be an array of job definitions");
  definitions.forEach((definition, index) => {
    if (!isJobDefinition(definition))
      throw new ConfigError(
        `checkInputs: definitions[${index}] is not a job definition (made by defineJob or defineStepJob)`,
      );
  });
  const maxFailures = options.maxFailures ?? 100;
  const pageSize = options.pageSize ?? 500;
  const pageBytes = options.pageBytes ?? 16 * 1_048_576;
  const queues = byQueue(definitions as ReadonlyArray<AnyDefinition>);
  const failures: InputFailure[] = [];
  let failed = 0;
  let checked = 0;
  let skipped = 0;
  for (const [queue, readers] of queues) {
    let after = "0";
    for (;;) {
      const rows = await orThrow(
        deps.store.opsTasksInputs(deps.pool, { queue, after, limit: pageSize, bytes: pageBytes })(),
      );
      for (const row of rows) {
        // A later step's input is the step before's output: no schema reads it (steps.ts).
        const deciding = readers.filter((reader) => reader.kind === "job" || (row.stepIndex ?? 0) === 0);
        if (deciding.length === 0) {
          skipped++;
          continue;
        }
        checked++;
        const problems = deciding.flatMap((reader) => {
          const problem = decodeProblem(reader, row.input);
          return problem === undefined ? [] : [problem];
        });
        if (problems.length === 0) continue;
        failed++;
        if (failures.length < maxFailures)
          failures.push({
            id: row.id,
            queue,
            state: row.state,
            stepIndex: row.stepIndex,
            error: bounded(problems.join("; ")),
          });
      }
      const last = rows[rows.length - 1];
      // A page cut by its byte bound may be short: only an empty one ends the walk.
      if (last === undefined) break;
      after = last.id;
    }
  }
  return { queues: [...queues.keys()], checked, skipped, failed, failures };
};
