import { ConfigError, ValidationError } from "./errors.ts";

// Lower-case only, so the quoted and unquoted spellings name the same object
// and a user's psql session finds it as written.
const identifierPattern = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Validates a schema name and returns it quoted for SQL text. The only
 * values ever interpolated into SQL go through here.
 */
export const quoteSchema = (schema: string): string => {
  if (!identifierPattern.test(schema)) {
    throw new ConfigError(
      `invalid schema name ${JSON.stringify(schema)}: use 1-63 characters of a-z, 0-9 and _, not starting with a digit`,
    );
  }
  // PostgreSQL's own schemas: migrating into information_schema succeeded
  // (and mixed underway's tables into the catalogue views); pg_* names are
  // reserved by PostgreSQL. `public` stays allowed: it is an ordinary schema,
  // and a clash with an application table there fails the migration's one
  // transaction, leaving the schema as it was.
  if (schema === "information_schema" || schema.startsWith("pg_")) {
    throw new ConfigError(
      `schema ${JSON.stringify(schema)} belongs to PostgreSQL itself: give underway a schema of its own (default "underway")`,
    );
  }
  return `"${schema}"`;
};

// Queue names travel as parameters and NOTIFY payloads, never as SQL text,
// but are kept printable and bounded so logs and payloads stay sane.
const queueNamePattern = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Validates a queue name, throwing a `ConfigError` that says what is allowed. */
export const checkQueueName = (name: string): string => {
  if (!queueNamePattern.test(name)) {
    throw new ConfigError(
      `invalid queue name ${JSON.stringify(name)}: use 1-128 characters of A-Z, a-z, 0-9, _ . : -`,
    );
  }
  return name;
};

const invalidId = (what: string, expected: string, id: unknown): ValidationError => {
  // Never calls the value's own methods: a hostile id still gets this error.
  const text =
    typeof id === "string" ? id : typeof id === "number" ? String(id) : Object.prototype.toString.call(id);
  const shown = JSON.stringify(text.slice(0, 40)) + (text.length > 40 ? "…" : "");
  return new ValidationError(`invalid ${what}`, {
    _tag: "DecodeError",
    paths: ["(root)"],
    message: `expected ${expected}, got ${shown}`,
  });
};

const taskIdPattern = /^[1-9][0-9]{0,18}$/;

/** Validates a task id (a positive 64-bit integer, as a string), throwing a `ValidationError`. */
export const checkTaskId = (id: string): string => {
  if (typeof id !== "string" || !taskIdPattern.test(id) || BigInt(id) > 9_223_372_036_854_775_807n)
    throw invalidId("task id", "a task id (a positive integer as a string)", id);
  return id;
};

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Validates a job id (a UUID), throwing a `ValidationError`. */
export const checkJobId = (id: string): string => {
  if (typeof id !== "string" || !uuidPattern.test(id)) throw invalidId("job id", "a UUID", id);
  return id;
};

/** Validates a batch id (a positive 64-bit integer, as a string), throwing a `ValidationError`. */
export const checkBatchId = (id: string): string => {
  if (typeof id !== "string" || !taskIdPattern.test(id) || BigInt(id) > 9_223_372_036_854_775_807n)
    throw invalidId("batch id", "a batch id (a positive integer as a string)", id);
  return id;
};
