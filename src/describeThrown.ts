import { inspect } from "node:util";
import { errorText, maxErrorMessageLength, maxErrorNameLength, maxErrorStackLength } from "./errorText.ts";

/** A thrown value as underway stores it: safe to write to PostgreSQL and bounded in length. */
export interface ThrownDescription {
  /** The error's `name` (`"TypeError"`…), or `"NonError"` for a thrown value that is not an Error. */
  readonly name: string;
  readonly message: string;
  /** The error's `stack`; null when the thrown value had none. */
  readonly stack: string | null;
}

/** Runs `read`; anything it throws becomes `undefined`. */
const attempt = <A>(read: () => A): A | undefined => {
  try {
    return read();
  } catch {
    return undefined;
  }
};

const stringOr = (value: unknown, fallback: string): string => (typeof value === "string" ? value : fallback);

// `inspect` never calls a value's toString, never runs a Proxy's traps and
// reads no getters; a custom inspect hook may still throw, hence `attempt`.
const inspected = (value: unknown): string | undefined =>
  attempt(() =>
    inspect(value, { depth: 2, breakLength: Infinity, maxArrayLength: 20, maxStringLength: 1_000 }),
  );

const isError = (value: object): boolean =>
  // A Proxy's getPrototypeOf trap may throw: then it is no Error we can read.
  attempt(() => value instanceof Error) === true;

const described = (value: unknown): ThrownDescription => {
  if (typeof value === "string") return { name: "NonError", message: value, stack: null };
  if (typeof value !== "object" && typeof value !== "function") {
    // String() of a symbol is safe (unlike a template literal); of the other primitives too.
    return { name: "NonError", message: String(value), stack: null };
  }
  if (value === null) return { name: "NonError", message: "null", stack: null };
  if (isError(value)) {
    const error = value as Error;
    const name = stringOr(
      attempt(() => error.name),
      "Error",
    );
    return {
      name,
      message: stringOr(
        attempt(() => error.message),
        inspected(value) ?? "an error whose message could not be read",
      ),
      stack: attempt(() => error.stack) ?? null,
    };
  }
  // An error-like object ({ name, message }) from code that throws plain objects.
  const message = attempt(() => (value as { message?: unknown }).message);
  const name = attempt(() => (value as { name?: unknown }).name);
  return {
    name: typeof message === "string" && typeof name === "string" ? name : "NonError",
    message:
      typeof message === "string"
        ? message
        : (inspected(value) ?? "a thrown value that could not be described"),
    stack: null,
  };
};

/**
 * Describes anything a handler may throw, and never throws itself: not for
 * `Object.create(null)`, an object whose `toString` throws, a symbol,
 * `undefined`, or a Proxy whose every trap throws. Name, message and stack
 * are bounded and cleaned of what PostgreSQL cannot store (NUL, lone
 * surrogates).
 *
 * @example
 * describeThrown(new TypeError("x")); // { name: "TypeError", message: "x", stack: "TypeError: x\n    at …" }
 * describeThrown(undefined); // { name: "NonError", message: "undefined", stack: null }
 */
export const describeThrown = (value: unknown): ThrownDescription => {
  const raw = attempt(() => described(value)) ?? {
    name: "NonError",
    message: "a thrown value that could not be described",
    stack: null,
  };
  return {
    name: errorText(raw.name, maxErrorNameLength),
    message: errorText(raw.message, maxErrorMessageLength),
    stack: typeof raw.stack === "string" ? errorText(raw.stack, maxErrorStackLength) : null,
  };
};
