import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import type { Stored } from "../codec.ts";
import type { JobDefinition } from "../definition.ts";
import { ValidationError } from "../errors.ts";

/** @internal A validated input: the value handlers see, and its stored JSON form and text. */
export type CheckedInput<V> = Stored<V>;

/**
 * Validates an input against the definition's schema (and jsonb), or throws
 * `ValidationError`; `index` names the item of a batch.
 */
export const checkInput = <In, V>(
  definition: Pick<JobDefinition<In, V, unknown, unknown>, "queue" | "input">,
  input: In,
  index?: number,
): CheckedInput<V> =>
  pipe(
    definition.input.check(input),
    E.getOrElseW((error) => {
      throw new ValidationError(
        `invalid input for queue ${definition.queue}${index === undefined ? "" : ` (item ${index})`}`,
        error,
      );
    }),
  );
