import { after, before } from "node:test";
import { silentLogger, Underway, type Logger } from "../../src/index.ts";
import { testDatabase, type TestDatabase } from "./testDatabase.ts";

/** A logger that keeps what it was told, for assertions. */
export const recordingLogger = (): Logger & { readonly lines: Array<LoggedLine> } => {
  const lines: Array<LoggedLine> = [];
  return {
    lines,
    info: (message, details) => lines.push({ level: "info", message, details }),
    warn: (message, details) => lines.push({ level: "warn", message, details }),
    error: (message, details) => lines.push({ level: "error", message, details }),
  };
};

/** One line a {@link recordingLogger} was told. */
export interface LoggedLine {
  readonly level: string;
  readonly message: string;
  readonly details: Record<string, unknown> | undefined;
}

/**
 * Per test file: a fresh database before, and after, every client made
 * through `connect` closed and the database dropped.
 */
export const useDatabase = (label: string) => {
  let database: TestDatabase | undefined;
  const clients: Underway[] = [];
  before(async () => {
    database = await testDatabase(label);
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await database?.drop();
  });
  const db = (): TestDatabase => {
    if (database === undefined) throw new Error("database not ready: call inside a test");
    return database;
  };
  return {
    db,
    /** A client on the file's database; closed after the file. */
    connect: async (options: { schema?: string; logger?: Logger } = {}): Promise<Underway> => {
      const client = await Underway.connect({
        pool: db().pool,
        schema: options.schema ?? "underway",
        logger: options.logger ?? silentLogger,
      });
      clients.push(client);
      return client;
    },
  };
};

/** Waits until `check` returns true, polling; fails after `timeoutMs`. */
export const eventually = async (
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
  what = "condition",
): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 25));
  }
};

/** A promise with its resolve function outside: a handler waits on it until the test lets it go. */
export const gate = () => {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((done) => (open = done));
  return { opened, open };
};
