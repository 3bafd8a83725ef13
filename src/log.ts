import { inspect } from "node:util";
import { checkOptionShape, type OptionRule } from "./optionShape.ts";

/** Where underway reports what it cannot return: lost notifications, fenced writes, retries. */
export interface Logger {
  /**
   * Routine news: a retention sweep deleted tasks, the LISTEN connection is
   * back. `details` holds structured fields (ids, counts, error messages).
   */
  info(message: string, details?: Record<string, unknown>): void;
  /** A problem underway works around by itself: a lost connection, a failed sweep tried again later. */
  warn(message: string, details?: Record<string, unknown>): void;
  /**
   * A failure worth a look: a task result that could not be recorded (the
   * task runs again), a stored schedule that is invalid, a failed shutdown.
   */
  error(message: string, details?: Record<string, unknown>): void;
}

/** The least severe messages a logger writes: `info` writes everything, `silent` nothing. */
export type LogLevel = "info" | "warn" | "error" | "silent";

/** A {@link Logger}, recognised by its three methods. */
export const loggerRule: OptionRule = {
  is: (value) =>
    typeof value === "object" &&
    value !== null &&
    typeof (value as Logger).info === "function" &&
    typeof (value as Logger).warn === "function" &&
    typeof (value as Logger).error === "function",
  expected: "a Logger (with info, warn and error methods)",
};

const severity: Readonly<Record<LogLevel, number>> = { info: 0, warn: 1, error: 2, silent: 3 };

// One line per message, details included (util.inspect would break a long
// object over several lines): a log collector keeps them together.
const line = (message: string, details: Record<string, unknown> | undefined): string =>
  details === undefined
    ? `[underway] ${message}`
    : `[underway] ${message} ${inspect(details, { breakLength: Infinity, compact: true, depth: 4 })}`;

const consoleAt = (level: LogLevel): Logger => {
  const writes = (at: LogLevel) => severity[at] >= severity[level];
  return {
    // Everything to stderr: stdout stays the program's own.
    info: (message, details) => (writes("info") ? console.error(line(message, details)) : undefined),
    warn: (message, details) => (writes("warn") ? console.warn(line(message, details)) : undefined),
    error: (message, details) => (writes("error") ? console.error(line(message, details)) : undefined),
  };
};

/**
 * The default logger: one line per message on stderr, warnings and errors
 * only. Call it for another level.
 *
 * @example
 * await Underway.connect({ connectionString, logger: consoleLogger({ level: "info" }) });
 * await Underway.connect({ connectionString, logger: consoleLogger({ level: "error" }) });
 */
export const consoleLogger: Logger & ((options?: { readonly level?: LogLevel }) => Logger) = Object.assign(
  (options: { readonly level?: LogLevel } = {}): Logger => {
    checkOptionShape("consoleLogger", options, { level: { oneOf: Object.keys(severity) } });
    return consoleAt(options.level ?? "warn");
  },
  consoleAt("warn"),
);

/** Drops everything: for tests. */
export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
