/**
 * The Standard Schema v1 interface (standardschema.dev), which zod, valibot
 * and arktype implement: underway accepts any such validator for inputs and
 * outputs. Written out here, as the spec intends, so no package is needed.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly "~standard": StandardSchemaV1.Props<Input, Output>;
}

/** Types of the Standard Schema v1 interface. */
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace StandardSchemaV1 {
  /** What a validator exposes under `~standard`. */
  export interface Props<Input = unknown, Output = Input> {
    /** The spec's version: always 1. */
    readonly version: 1;
    /** The library that made the schema (`"zod"`, `"valibot"`, `"arktype"`). */
    readonly vendor: string;
    /**
     * Checks a value. underway needs it synchronous: when `validate`
     * returns a Promise, the value fails with a `ValidationError`.
     */
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    /** The input and output types, for type inference only; absent at run time. */
    readonly types?: Types<Input, Output> | undefined;
  }
  /** The outcome of a validation. */
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  /** A valid value. */
  export interface SuccessResult<Output> {
    /** The validated value, possibly transformed by the schema. */
    readonly value: Output;
    /** Absent on success: how a success is told from a failure. */
    readonly issues?: undefined;
  }
  /** An invalid value and why. */
  export interface FailureResult {
    /** Every problem found; underway names each in the `ValidationError` message. */
    readonly issues: ReadonlyArray<Issue>;
  }
  /** One problem, with where it is. */
  export interface Issue {
    /** What is wrong, in the validator's words. */
    readonly message: string;
    /** Where: keys from the root to the bad field; absent or empty for the value itself. */
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  /** A path segment given as an object. */
  export interface PathSegment {
    /** The property name or array index. */
    readonly key: PropertyKey;
  }
  /** The static types of a schema. */
  export interface Types<Input = unknown, Output = Input> {
    /** The type the schema accepts. */
    readonly input: Input;
    /** The type the schema yields after validation. */
    readonly output: Output;
  }
}
