import { ConfigError } from "./errors.ts";

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
