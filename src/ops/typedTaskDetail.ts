import * as E from "fp-ts/lib/Either.js";
import type { TaskDefinition } from "../definition.ts";
import { decodeError } from "../codec.ts";
import { ValidationError } from "../errors.ts";
import type { TaskDetail, TypedTaskDetail } from "./types.ts";

/**
 * Decodes a task's stored input and output with the definition of its
 * queue (or of the queue it was dead-lettered from). A task of another
 * queue, or a stored value the schemas refuse (a definition changed since
 * the task was written), is a `ValidationError` naming the task, not a
 * value of the wrong type.
 */
export const typedTaskDetail = <In, V, R, O>(
  detail: TaskDetail,
  definition: TaskDefinition<In, V, R, O>,
): TypedTaskDetail<V, O> => {
  const { queue } = definition;
  if (detail.queue !== queue && detail.dlqFrom !== queue)
    throw new ValidationError(
      `task ${detail.id} is not of queue ${queue}`,
      decodeError(
        [],
        `it is in queue ${detail.queue}${detail.dlqFrom === null ? "" : ` (from ${detail.dlqFrom})`}`,
      ),
    );
  const input = definition.input.load(detail.input);
  if (E.isLeft(input)) throw new ValidationError(`stored input of task ${detail.id}`, input.left);
  if (detail.output === null) return { ...detail, input: input.right, output: null };
  const output = definition.output.load(detail.output);
  if (E.isLeft(output)) throw new ValidationError(`stored output of task ${detail.id}`, output.left);
  return { ...detail, input: input.right, output: output.right };
};
