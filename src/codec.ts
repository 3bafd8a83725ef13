import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import type * as t from "io-ts";
import { ConfigError, type DecodeError } from "./errors.ts";
import { describeThrown } from "./describeThrown.ts";
import { jsonProblem } from "./json.ts";
import type { StandardSchemaV1 } from "./standardSchema.ts";

const preview = (value: unknown): string => {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  // Error messages echo a bounded prefix of a bad value, never all of it.
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
};

const pathOf = (error: t.ValidationError): string => {
  const keys = error.context.map((entry) => entry.key).filter((key) => key !== "");
  return keys.length === 0 ? "(root)" : keys.join(".");
};

const describe = (error: t.ValidationError): string => {
  const last = error.context[error.context.length - 1];
  const expected = last?.type.name ?? "valid value";
  return `${pathOf(error)}: expected ${expected}, got ${preview(error.value)}`;
};

/** @internal A DecodeError from paths and a message. */
export const decodeError = (paths: ReadonlyArray<string>, message: string): DecodeError => ({
  _tag: "DecodeError",
  paths: [...new Set(paths)],
  message,
});

/** Decodes through an io-ts codec; a failure names every bad field's path. */
export const decodeWith =
  <A, O, I>(codec: t.Type<A, O, I>) =>
  (value: I): E.Either<DecodeError, A> =>
    pipe(
      codec.decode(value),
      E.mapLeft((errors) => decodeError(errors.map(pathOf), errors.map(describe).join("; "))),
    );

/**
 * @internal Parses `text` as JSON and decodes it with `decode`; text that
 * is not JSON is a Left too (undefined: the caller says what it ignored).
 */
export const decodeJsonText =
  <A, L>(decode: (value: unknown) => E.Either<L, A>) =>
  (text: string): E.Either<L | undefined, A> =>
    pipe(
      E.tryCatch(
        () => JSON.parse(text) as unknown,
        () => undefined,
      ),
      E.chainW(decode),
    );

/** What underway accepts as a schema: an io-ts codec or any Standard Schema v1 validator (zod, valibot, arktype). */
export type Schema = t.Mixed | StandardSchemaV1;

/** The type a schema accepts: what you enqueue, or what a handler returns. */
export type SchemaInput<S> =
  S extends t.Type<infer A, infer _O, infer _I>
    ? A
    : S extends StandardSchemaV1<infer In, infer _Out>
      ? In
      : never;

/** The type a schema yields: what a handler receives, or what `result()` gives. */
export type SchemaOutput<S> =
  S extends t.Type<infer A, infer _O, infer _I>
    ? A
    : S extends StandardSchemaV1<infer _In, infer Out>
      ? Out
      : never;

/**
 * @internal A checked value: what handlers (or readers) see, its stored JSON
 * form, and that form's text, made once and written as is.
 */
export interface Stored<V> {
  readonly value: V;
  readonly stored: unknown;
  readonly json: string;
}

/**
 * @internal How values cross the database: `check` validates what the user
 * gives and returns its stored (JSON) form; `load` turns the stored form back
 * into the value. io-ts codecs encode and decode; a Standard Schema stores
 * what it was given and validates again on load, so its transforms run on
 * the reading side.
 */
export interface Codec<In, Out> {
  check(value: In): E.Either<DecodeError, Stored<Out>>;
  load(stored: unknown): E.Either<DecodeError, Out>;
}

const isStandard = (schema: Schema): schema is StandardSchemaV1 =>
  typeof schema === "object" && schema !== null && "~standard" in schema;

// What is stored is what JSON makes of a value: checked first for what jsonb
// cannot hold (NUL, lone surrogates, NaN, Infinity, bigint, cycles…), then
// round-tripped, so a check runs on exactly what readers will load (a Date
// becomes its ISO string here, not only in another process).
const storable = (
  value: unknown,
): E.Either<DecodeError, { readonly stored: unknown; readonly json: string }> => {
  const problem = jsonProblem(value);
  if (problem !== undefined)
    return E.left(decodeError([problem.path], `${problem.path}: ${problem.message}`));
  const json = JSON.stringify(value) ?? "null";
  return E.right({ stored: JSON.parse(json) as unknown, json });
};

const issuesError = (issues: ReadonlyArray<StandardSchemaV1.Issue>, prefix: string): DecodeError => {
  const paths = issues.map((issue) =>
    issue.path === undefined || issue.path.length === 0
      ? "(root)"
      : issue.path.map((segment) => String(typeof segment === "object" ? segment.key : segment)).join("."),
  );
  return decodeError(
    paths,
    issues.map((issue, index) => `${prefix}${paths[index] ?? "(root)"}: ${issue.message}`).join("; "),
  );
};

const standardCodec = <In, Out>(schema: StandardSchemaV1<In, Out>): Codec<In, Out> => {
  const validate = (value: unknown, prefix = ""): E.Either<DecodeError, Out> => {
    let result: StandardSchemaV1.Result<Out> | Promise<StandardSchemaV1.Result<Out>>;
    try {
      result = schema["~standard"].validate(value);
    } catch (error) {
      return E.left(decodeError(["(root)"], `${prefix}the schema threw: ${describeThrown(error).message}`));
    }
    if (result instanceof Promise) {
      // zod, for one, falls back to a promise when a check throws: it must
      // not become an unhandled rejection.
      result.catch(() => undefined);
      return E.left(
        decodeError(
          ["(root)"],
          `${prefix}the schema did not validate synchronously (an async refinement, or a check that threw); use a synchronous schema whose checks do not throw`,
        ),
      );
    }
    return result.issues === undefined ? E.right(result.value) : E.left(issuesError(result.issues, prefix));
  };
  return {
    check: (value) =>
      pipe(
        validate(value),
        E.chain(() => storable(value)),
        // Readers validate the stored JSON: so does the writer, so that what
        // is accepted here is what they can load.
        E.chain(({ stored, json }) =>
          pipe(
            validate(stored, "as stored (JSON): "),
            E.map((out) => ({ value: out, stored, json })),
          ),
        ),
      ),
    load: (stored) => validate(stored),
  };
};

const ioTsCodec = <A, O>(codec: t.Type<A, O, unknown>): Codec<A, A> => {
  const decode = decodeWith(codec);
  // A value is checked by a round trip (encode, JSON, decode), so codecs
  // whose type differs from their JSON form (a Date stored as a string)
  // check the typed value, and what is accepted is what readers can load.
  // An encode that throws on a bad value falls back to decoding the value
  // itself, which names the bad fields.
  return {
    check: (value) => {
      let encoded: unknown;
      try {
        encoded = codec.encode(value);
      } catch {
        return pipe(
          decode(value),
          E.chain(() => E.left(decodeError(["(root)"], "the codec could not encode the value"))),
        );
      }
      return pipe(
        storable(encoded),
        E.chain(({ stored, json }) =>
          pipe(
            decode(stored),
            // The typed value's own errors name its fields better than the
            // stored form's, when it has any.
            E.orElse((error) =>
              pipe(
                decode(value),
                E.chain(() => E.left<DecodeError, A>(error)),
              ),
            ),
            E.map((valid) => ({ value: valid, stored, json })),
          ),
        ),
      );
    },
    load: decode,
  };
};

/** @internal The codec of a schema. */
export const codecOf = <S extends Schema>(
  schema: S,
  what: string,
): Codec<SchemaInput<S>, SchemaOutput<S>> => {
  if (isStandard(schema)) {
    if (typeof schema["~standard"]?.validate !== "function")
      throw new ConfigError(`${what} is not a Standard Schema: its ~standard.validate is not a function`);
    return standardCodec(schema) as unknown as Codec<SchemaInput<S>, SchemaOutput<S>>;
  }
  const codec = schema as Partial<t.Type<unknown, unknown, unknown>> | null;
  if (
    typeof codec !== "object" ||
    codec === null ||
    typeof codec.decode !== "function" ||
    typeof codec.encode !== "function"
  )
    throw new ConfigError(`${what} must be an io-ts codec or a Standard Schema (zod, valibot, arktype)`);
  return ioTsCodec(schema as t.Type<unknown, unknown, unknown>) as unknown as Codec<
    SchemaInput<S>,
    SchemaOutput<S>
  >;
};

/**
 * @internal The codec of untyped JSON outputs: checked to be storable, loaded
 * as is. A handler that returns nothing (`undefined`) succeeded: its output
 * is stored as `null`, as every peer treats it, rather than failing the task
 * after its side effects ran.
 */
export const jsonCodec = <A>(): Codec<A, A> => ({
  check: (value) =>
    pipe(
      storable(value === undefined ? null : value),
      E.map(({ stored, json }) => ({ value: stored as A, stored, json })),
    ),
  load: (stored) => E.right(stored as A),
});
