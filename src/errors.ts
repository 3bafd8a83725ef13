/**
 * Errors are values inside underway (tagged unions); public Promise APIs
 * reject with the `UnderwayError` subclasses below, each carrying its cause.
 */

/** A database call failed. `transient` marks errors worth retrying. */
export interface DbError {
  readonly _tag: "DbError";
  readonly operation: string;
  readonly cause: unknown;
  readonly transient: boolean;
}

/** A value did not match its io-ts codec; `paths` name each bad field. */
export interface DecodeError {
  readonly _tag: "DecodeError";
  readonly paths: ReadonlyArray<string>;
  readonly message: string;
}

/**
 * How a task's handler ended when it did not succeed, with the error's name,
 * message and stack as stored in the attempt (stack null when there was none).
 */
export type TaskFailure = {
  readonly _tag: "Retryable" | "Fatal" | "TimedOut" | "Aborted";
  readonly name: string;
  readonly message: string;
  readonly stack: string | null;
};

// SQLSTATE classes that a retry can fix: connection loss (08), resources
// (53), operator intervention such as a restart (57P01..57P03), and
// serialization or deadlock failures (40001, 40P01).
const transientCodes = /^(08|53|57P0[123]|40001|40P01)/;

const errorCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined;

const connectionMessages =
  /connection|terminat|ECONNREFUSED|ECONNRESET|EPIPE|timeout|Client has encountered/i;

/** Wraps a thrown database error, classifying whether a retry may help. */
export const dbError = (operation: string, cause: unknown): DbError => {
  const code = errorCode(cause);
  const message = cause instanceof Error ? cause.message : String(cause);
  const transient =
    code !== undefined ? transientCodes.test(code) || code.startsWith("E") : connectionMessages.test(message);
  return { _tag: "DbError", operation, cause, transient };
};

export const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause));

/** Base of every error a public underway API rejects with. */
export class UnderwayError extends Error {
  override readonly name: string = "UnderwayError";
}

/** Input (or output) failed its codec; nothing was written. */
export class ValidationError extends UnderwayError {
  override readonly name = "ValidationError";
  constructor(
    readonly context: string,
    readonly decodeError: DecodeError,
  ) {
    super(`${context}: ${decodeError.message}`);
  }
}

/** A database operation failed. */
export class DatabaseError extends UnderwayError {
  override readonly name = "DatabaseError";
  /** `secret`, if given, is blanked out of the message (a connection string's password). */
  constructor(
    readonly dbError: DbError,
    secret?: string,
  ) {
    const message = `${dbError.operation} failed: ${messageOf(dbError.cause)}`;
    super(secret === undefined ? message : message.split(secret).join("****"), { cause: dbError.cause });
  }
}

/**
 * The client was closed: every call made after `close()` (and every
 * `outcome()` or `result()` still waiting when it closed) rejects with it.
 */
export class ClosedError extends UnderwayError {
  override readonly name = "ClosedError";
  constructor() {
    super("this Underway client is closed");
  }
}

/** A configuration value (schema, queue name, option) is not acceptable. */
export class ConfigError extends UnderwayError {
  override readonly name = "ConfigError";
}

/** An applied migration's file no longer matches what was applied. */
export class MigrationError extends UnderwayError {
  override readonly name = "MigrationError";
}

/**
 * Throw from a handler to fail the task at once, skipping remaining retries.
 * Any other thrown error is retryable.
 *
 * @example
 * if (!user) throw new FatalError(`user ${id} does not exist`);
 */
export class FatalError extends Error {
  override readonly name = "FatalError";
}

/** Why a running task's `AbortSignal` fired. */
export type AbortKind = "cancelled" | "timeout" | "shutdown" | "lease lost";

const abortMessages: Readonly<Record<AbortKind, string>> = {
  cancelled: "cancelled: the task was cancelled",
  timeout: "timed out",
  shutdown: "aborted: worker shut down before the task finished",
  "lease lost": "lease lost: the task was reclaimed by another worker",
};

/**
 * The `reason` of a handler's `AbortSignal`: an Error, so `fetch(url, { signal })`
 * and other signal-aware APIs reject with it, and its `kind` says why the
 * signal fired. Its `name` is `"AbortError"`, as code that checks
 * `error.name === "AbortError"` expects.
 *
 * @example
 * const handler = async (input, { signal }) => {
 *   try {
 *     return await fetch(input.url, { signal });
 *   } catch (error) {
 *     if (signal.reason instanceof AbortError && signal.reason.kind === "timeout") log("too slow");
 *     throw error;
 *   }
 * };
 */
export class AbortError extends UnderwayError {
  override readonly name = "AbortError";
  constructor(
    readonly kind: AbortKind,
    message: string = abortMessages[kind],
  ) {
    super(message);
  }
}

/** Thrown by `result()` when a task ends in another state than succeeded. */
export class TaskFailedError extends UnderwayError {
  override readonly name = "TaskFailedError";
  constructor(
    readonly taskId: string,
    readonly state: "failed" | "cancelled",
    readonly error: string | null,
  ) {
    super(`task ${taskId} ${state}${error === null ? "" : `: ${error}`}`);
  }
}
