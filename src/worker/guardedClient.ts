import type pg from "pg";
import { UnderwayError } from "../errors.ts";

/** The client handed to a transactional handler, and how to take it back. */
export interface TxGuard {
  readonly client: pg.PoolClient;
  close(): void;
}

// Statements that would end or replace the transaction underway commits in,
// or change its isolation (a repeatable-read or serializable snapshot makes
// the completion fail against the lease renewals made meanwhile). Matched
// against the statement's first words once comments are skipped; the
// statement is the only one, since every query goes through the extended
// protocol (see `extended`).
const transactionControl =
  /^(commit|end|abort|begin|start\s+transaction|prepare\s+transaction|rollback(?!\s+to\b)|set\s+(session\s+characteristics|transaction))\b/i;

/**
 * `text` from its first token: whitespace, empty statements, `--` line
 * comments and (nested) block comments skipped, as PostgreSQL's lexer skips them. Without this a
 * comment in front of COMMIT hides it from the check above.
 */
const firstToken = (text: string): string => {
  let at = 0;
  for (;;) {
    // Semicolons too: an empty statement before COMMIT leaves it the only one.
    while (at < text.length && /[\s;]/.test(text.charAt(at))) at += 1;
    if (text.startsWith("--", at)) {
      const eol = text.slice(at).search(/[\r\n]/);
      if (eol < 0) return "";
      at += eol;
    } else if (text.startsWith("/*", at)) {
      let depth = 0;
      do {
        if (text.startsWith("/*", at)) {
          depth += 1;
          at += 2;
        } else if (text.startsWith("*/", at)) {
          depth -= 1;
          at += 2;
        } else if (at >= text.length) return "";
        else at += 1;
      } while (depth > 0);
    } else return text.slice(at);
  }
};

const refuse = (message: string, callback: unknown): Promise<never> | undefined => {
  const error = new UnderwayError(message);
  if (typeof callback === "function") {
    queueMicrotask(() => (callback as (error: Error) => void)(error));
    return undefined;
  }
  return Promise.reject(error);
};

const isObject = (value: unknown): value is Record<string | symbol, unknown> =>
  typeof value === "object" && value !== null;

/**
 * The query `config` sent through the extended protocol, which runs exactly
 * one statement per query: PostgreSQL refuses "select 1; commit" there
 * ("cannot insert multiple commands into a prepared statement"), where pg's
 * default (the simple protocol for text without parameters) would run both.
 * A config object is copied, not changed; a pg `Query` (a submittable) is
 * switched itself. Other submittables (pg-cursor, pg-query-stream) speak
 * the extended protocol already.
 */
const extended = (config: unknown): unknown => {
  if (typeof config === "string") return { text: config, queryMode: "extended" };
  if (!isObject(config)) return config;
  if (typeof config["submit"] === "function") {
    if (typeof config["requiresPreparation"] === "function") config["queryMode"] = "extended";
    return config;
  }
  const copy = Object.defineProperties(
    Object.create(Object.getPrototypeOf(config) as object | null) as Record<string, unknown>,
    Object.getOwnPropertyDescriptors(config),
  );
  copy["queryMode"] = "extended";
  return copy;
};

/**
 * The client a handler gets as `ctx.tx`: the real one, except that it
 * cannot be released, runs one statement per query, refuses transaction
 * control (COMMIT, ROLLBACK, changing the isolation) however it is
 * written, hides its wire connection, and refuses every query once the
 * handler's part of the attempt is over, so a late write can neither
 * autocommit nor land in another task's transaction. The attempt checks
 * before it commits that the transaction is still the one it opened, for
 * whatever gets past this.
 */
export const guardedClient = (client: pg.PoolClient): TxGuard => {
  let open = true;
  const query = (...args: unknown[]): unknown => {
    const [config, ...rest] = args;
    const callback = rest.find((arg) => typeof arg === "function");
    if (!open)
      return refuse(
        "ctx.tx is closed: this attempt's handler has settled, timed out or been aborted; use tx only inside the handler",
        callback,
      );
    const text =
      typeof config === "string"
        ? config
        : isObject(config) && "text" in config
          ? String(config["text"])
          : "";
    if (transactionControl.test(firstToken(text)))
      return refuse(
        `ctx.tx refuses ${JSON.stringify(text.trim().slice(0, 40))}: underway commits or rolls back the handler's transaction, at read committed (use savepoints for nested work)`,
        callback,
      );
    return (client.query as (...a: unknown[]) => unknown).call(client, extended(config), ...rest);
  };
  const release = () => {
    throw new UnderwayError("ctx.tx is underway's: do not release it");
  };
  const proxy = new Proxy(client, {
    get(target, property) {
      if (property === "query") return query;
      if (property === "release") return release;
      // The wire connection sends any text by the simple protocol, past every check here.
      if (property === "connection")
        throw new UnderwayError("ctx.tx's connection is underway's: send queries with tx.query");
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    client: proxy,
    close: () => {
      open = false;
    },
  };
};
