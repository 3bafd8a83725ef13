/**
 * Errors are values inside underway (tagged unions); public Promise APIs
 * reject with the `UnderwayError` subclasses below, each carrying its cause.
 */
import * as E from "fp-ts/lib/Either.js";

/** A database call failed. `transient` marks errors worth retrying. */
export interface DbError {
  /** Discriminant: always `"DbError"`. */
  readonly _tag: "DbError";
  /** What was being done: a named query of `db/queries/` (`"tasksClaim"`), or `"connect"`. */
  readonly operation: string;
  /**
   * What pg threw, as is (usually a `pg.DatabaseError` with a SQLSTATE
   * `code`); for a named statement that collided behind a transaction-mode
   * pooler, the `ConfigError` that says so (its `cause` pg's error).
   */
  readonly cause: unknown;
  /**
   * True when a retry may succeed: lost connections, a server restarting,
   * too many connections, serialization failures and deadlocks.
   */
  readonly transient: boolean;
}

/** A value did not match its io-ts codec; `paths` name each bad field. */
export interface DecodeError {
  /** Discriminant: always `"DecodeError"`. */
  readonly _tag: "DecodeError";
  /** Each bad field's dotted path (`"user.email"`), without repeats; `"(root)"` for the value itself. */
  readonly paths: ReadonlyArray<string>;
  /** Every problem as `path: what was wrong`, joined with `"; "`. */
  readonly message: string;
}

/**
 * How a task's handler ended when it did not succeed, with the error's name,
 * message and stack as stored in the attempt (stack null when there was none).
 */
export type TaskFailure = {
  /**
   * How it ended: the handler threw (`Retryable`), threw a {@link FatalError}
   * (`Fatal`, no retries), ran past its `timeoutMs` (`TimedOut`), or was
   * aborted by cancellation, a lost lease or shutdown (`Aborted`), or
   * snoozed (`Snoozed`: `snooze(ms)`, no attempt spent, not a failure of
   * the task; never seen by outcome readers).
   */
  readonly _tag: "Retryable" | "Fatal" | "TimedOut" | "Aborted" | "Snoozed";
  /** The thrown error's `name` (`"TypeError"`); `"NonError"` when something other than an Error was thrown. */
  readonly name: string;
  /** The thrown error's message, cleaned of NUL and lone surrogates, at most 8 K characters. */
  readonly message: string;
  /** The thrown error's stack, at most 16 K characters; null when it had none, and for timeouts and aborts. */
  readonly stack: string | null;
  /**
   * @internal For an input that did not decode, the paths of its bad
   * fields: log lines name them instead of the message, which echoes the
   * input's values (personal data, perhaps).
   */
  readonly undecoded?: ReadonlyArray<string>;
  /** @internal For a `Snoozed` attempt, how long the task sleeps (ms). */
  readonly snoozeMs?: number;
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
  /** The class's name, so logs and `error.name` checks tell the subclasses apart. */
  override readonly name: string = "UnderwayError";
}

/** Input (or output) failed its codec; nothing was written. */
export class ValidationError extends UnderwayError {
  /** Always `"ValidationError"`. */
  override readonly name = "ValidationError";
  /** The message is `context: decodeError.message`. */
  constructor(
    /** What was being validated, e.g. `"invalid input for queue email"`; the message starts with it. */
    readonly context: string,
    /** Which fields were wrong and how; `decodeError.paths` lists them. */
    readonly decodeError: DecodeError,
  ) {
    super(`${context}: ${decodeError.message}`);
  }
}

/** A database operation failed. */
export class DatabaseError extends UnderwayError {
  /** Always `"DatabaseError"`. */
  override readonly name = "DatabaseError";
  /** `secret`, if given, is blanked out of the message (a connection string's password). */
  constructor(
    /** The failed operation, the pg error (also this error's `cause`) and whether a retry may help. */
    readonly dbError: DbError,
    secret?: string,
  ) {
    const message = `${dbError.operation} failed: ${messageOf(dbError.cause)}`;
    super(secret === undefined ? message : message.split(secret).join("****"), { cause: dbError.cause });
  }
}

/**
 * Turns an internal Either into a Promise that rejects with a `DatabaseError`:
 * where a value-typed `DbError` leaves for a public Promise API.
 */
export const orThrow = async <A>(result: Promise<E.Either<DbError, A>>): Promise<A> => {
  const either = await result;
  if (E.isLeft(either)) throw publicError(either.left);
  return either.right;
};

/**
 * The error a public API rejects with for a `DbError`: a `DatabaseError`,
 * or the `ConfigError` a misconfiguration found (see src/db/namedStatements.ts).
 */
export const publicError = (error: DbError): UnderwayError =>
  error.cause instanceof ConfigError ? error.cause : new DatabaseError(error);

/**
 * The client was closed: every call made after `close()` (and every
 * `outcome()` or `result()` still waiting when it closed) rejects with it.
 */
export class ClosedError extends UnderwayError {
  /** Always `"ClosedError"`. */
  override readonly name = "ClosedError";
  /** Its message is always "this Underway client is closed". */
  constructor() {
    super("this Underway client is closed");
  }
}

/** A configuration value (schema, queue name, option) is not acceptable. */
export class ConfigError extends UnderwayError {
  /** Always `"ConfigError"`. */
  override readonly name = "ConfigError";
}

/**
 * An enqueue would take its queue past its `maxPending` cap: nothing was
 * written (for `enqueueMany`, none of the batch). It names the queue, the cap
 * in force and the pending tasks before this enqueue (counted up to the cap:
 * a lower bound when an operator lowered the cap below the backlog).
 */
export class QueueFullError extends UnderwayError {
  /** Always `"QueueFullError"`. */
  override readonly name = "QueueFullError";
  /** Made by enqueue when the cap check fails; its fields are what the message says. */
  constructor(
    /** The queue. */
    readonly queue: string,
    /** The cap in force (the definition's `maxPending`, or an operator's setting). */
    readonly cap: number,
    /** Pending tasks of the queue before this enqueue. */
    readonly pending: number,
    /** How many new tasks this enqueue would have added. */
    readonly adding: number,
  ) {
    super(
      `queue ${queue} is full: ${pending} pending of a cap of ${cap} (maxPending); ` +
        `this enqueue of ${adding} new task${adding === 1 ? "" : "s"} was rejected and wrote nothing`,
    );
  }
}

/** An applied migration's file no longer matches what was applied. */
export class MigrationError extends UnderwayError {
  /** Always `"MigrationError"`. */
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
  /** Always `"FatalError"`; stored as the attempt's `errorName`. */
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
  /** Always `"AbortError"`, like the DOM's, so code checking `error.name` recognises it. */
  override readonly name = "AbortError";
  /** `message` defaults to a sentence saying why, e.g. "timed out". */
  constructor(
    /** Why the signal fired: cancelled, timed out, worker shutdown, or lease lost to another worker. */
    readonly kind: AbortKind,
    message: string = abortMessages[kind],
  ) {
    super(message);
  }
}

/** Thrown by `result()` when a task ends in another state than succeeded. */
export class TaskFailedError extends UnderwayError {
  /** Always `"TaskFailedError"`. */
  override readonly name = "TaskFailedError";
  /** The message is `task <taskId> <state>: <error>`. */
  constructor(
    /** The task's id; for a multi-step job's `result()`, the job id. */
    readonly taskId: string,
    /** How it ended: `failed` (retries exhausted or fatal) or `cancelled`. */
    readonly state: "failed" | "cancelled",
    /** The last attempt's error message; null when the task was cancelled. */
    readonly error: string | null,
  ) {
    super(`task ${taskId} ${state}${error === null ? "" : `: ${error}`}`);
  }
}
