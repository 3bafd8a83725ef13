/** Where underway reports what it cannot return: lost notifications, fenced writes, retries. */
export interface Logger {
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

/** Writes warnings and errors to stderr; info is dropped. */
export const consoleLogger: Logger = {
  info: () => undefined,
  warn: (message, details) => console.warn(`[underway] ${message}`, details ?? ""),
  error: (message, details) => console.error(`[underway] ${message}`, details ?? ""),
};

/** Drops everything. */
export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
