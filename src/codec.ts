import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import type * as t from "io-ts";
import type { DecodeError } from "./errors.ts";

const pathOf = (error: t.ValidationError): string => {
  const keys = error.context.map((entry) => entry.key).filter((key) => key !== "");
  return keys.length === 0 ? "(root)" : keys.join(".");
};

const describe = (error: t.ValidationError): string => {
  const last = error.context[error.context.length - 1];
  const expected = last?.type.name ?? "valid value";
  return `${pathOf(error)}: expected ${expected}, got ${JSON.stringify(error.value) ?? "undefined"}`;
};

/** Decodes through a codec; a failure names every bad field's path. */
export const decodeWith =
  <A, O, I>(codec: t.Type<A, O, I>) =>
  (value: I): E.Either<DecodeError, A> =>
    pipe(
      codec.decode(value),
      E.mapLeft((errors) => ({
        _tag: "DecodeError" as const,
        paths: [...new Set(errors.map(pathOf))],
        message: errors.map(describe).join("; "),
      })),
    );
