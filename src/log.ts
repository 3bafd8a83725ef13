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

/** Writes warnings and errors to stderr; info is dropped. */
export const consoleLogger: Logger = {
  info: () => undefined,
  warn: (message, details) =>
    details === undefined
      ? console.warn(`[underway] ${message}`)
      : console.warn(`[underway] ${message}`, details),
  error: (message, details) =>
    details === undefined
      ? console.error(`[underway] ${message}`)
      : console.error(`[underway] ${message}`, details),
};

/** Drops everything. */
export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
