import type pg from "pg";
import { UnderwayError } from "../errors.ts";

/**
 * What a transactional handler writes through (`ctx.tx`): pg's `query`, in
 * all its forms, and its escaping helpers, inside the attempt's transaction.
 */
export type TransactionClient = Pick<pg.ClientBase, "query" | "escapeIdentifier" | "escapeLiteral">;

/** The client handed to a transactional handler, and how to take it back. */
export interface TxGuard {
  readonly client: TransactionClient;
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

/** Why `text` may not run on `ctx.tx`, or undefined when it may. */
const refusal = (text: string): string | undefined =>
  transactionControl.test(firstToken(text))
    ? `ctx.tx refuses ${JSON.stringify(text.trim().slice(0, 40))}: underway commits or rolls back the handler's transaction, at read committed (use savepoints for nested work)`
    : undefined;

/**
 * A query config as data, sent through the extended protocol: its own
 * enumerable fields read once (a getter on `text` cannot answer the check
 * one thing and pg another), inherited ones left behind, and `queryMode:
 * "extended"`, which runs exactly one statement per query: PostgreSQL
 * refuses "select 1; commit" there ("cannot insert multiple commands into
 * a prepared statement"), where pg's default (the simple protocol for text
 * without parameters) would run both.
 */
const snapshot = (config: unknown): Record<string, unknown> =>
  typeof config === "string"
    ? { text: config, queryMode: "extended" }
    : { ...(config as Record<string, unknown>), queryMode: "extended" };

/**
 * A submittable (a pg `Query`, a pg-cursor `Cursor`: anything with its own
 * `text`) checked when pg sends it, not when it is handed over: one queued
 * behind a busy query could have its `text` changed in between. One
 * without a `text` of its own (pg-query-stream keeps it on an inner cursor)
 * is refused: its statement cannot be checked. pg reports what `submit`
 * returns as the query's error. A pg `Query` is switched to the extended
 * protocol there too; cursors and streams speak it already. A submittable
 * of one's own gets the wire connection in `submit` and can send anything:
 * that one is the caller's (docs/transactions.md).
 */
const checkedAtSend = (
  submittable: Record<string | symbol, unknown>,
): Record<string | symbol, unknown> | undefined => {
  const submit = submittable["submit"] as (this: unknown, connection: unknown) => unknown;
  const checked = function (this: Record<string, unknown>, connection: unknown): unknown {
    // The text pg sends is the one checked: read once, then pinned as a plain
    // value on the object (a getter could answer the check one statement and
    // pg another), and read back to make sure it held.
    const text: unknown = this["text"];
    if (typeof text !== "string" || text === "")
      return new UnderwayError(
        "ctx.tx sends no query without its text (a named statement too): one prepared elsewhere on this connection cannot be checked",
      );
    const pinned = Reflect.defineProperty(this, "text", { value: text, writable: false, configurable: true });
    if (!pinned || this["text"] !== text) return new UnderwayError("ctx.tx cannot check this query object");
    const problem = refusal(text);
    if (problem !== undefined) return new UnderwayError(problem);
    if (typeof this["requiresPreparation"] === "function") this["queryMode"] = "extended";
    return submit.call(this, connection);
  };
  submittable["submit"] = checked;
  // A Proxy's set trap or a setter can swallow the assignment: then the
  // check would never run, so the query is refused instead.
  return submittable["submit"] === checked ? submittable : undefined;
};

/** What `ctx.tx` offers: `query` and pg's escaping helpers, nothing of the client behind them. */
const offered = ["query", "escapeIdentifier", "escapeLiteral"] as const;

/**
 * The client a handler gets as `ctx.tx`: an object of its own with
 * `query`, `escapeIdentifier` and `escapeLiteral`, the real client out of
 * reach (no prototype, no queue, no connection to reach past the checks).
 * Every query runs one statement through the extended protocol; transaction
 * control (COMMIT, ROLLBACK, changing the isolation) is refused however it
 * is written; a named statement must carry its text; and once the
 * handler's part of the attempt is over every query is refused, so a late
 * write can neither autocommit nor land in another task's transaction. The
 * attempt checks before it commits that the transaction is still the one
 * it opened, for whatever gets past this.
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
    if (isObject(config) && typeof config["submit"] === "function") {
      const submittable = checkedAtSend(config);
      if (submittable === undefined) {
        // Refused the way a submittable hears of any failure: its handleError
        // (a pg.Query emits "error"), after the caller has attached listeners.
        const error = new UnderwayError(
          "ctx.tx cannot check this query object (its submit cannot be replaced)",
        );
        const handleError = config["handleError"];
        if (typeof handleError !== "function") return refuse(error.message, callback);
        queueMicrotask(() => (handleError as (error: Error) => void).call(config, error));
        return config;
      }
      return (client.query as (...a: unknown[]) => unknown).call(client, submittable, ...rest);
    }
    if (typeof config !== "string" && !isObject(config))
      return refuse("ctx.tx.query takes a text or a query config", callback);
    const sent = snapshot(config);
    if (typeof sent["text"] !== "string" || sent["text"] === "")
      return refuse(
        "ctx.tx.query needs the statement's text (a named statement too): one prepared elsewhere on this connection cannot be checked",
        callback,
      );
    const problem = refusal(sent["text"]);
    if (problem !== undefined) return refuse(problem, callback);
    return (client.query as (...a: unknown[]) => unknown).call(client, sent, ...rest);
  };
  const members: Readonly<Record<(typeof offered)[number], unknown>> = {
    query,
    escapeIdentifier: (text: string) => client.escapeIdentifier(text),
    escapeLiteral: (text: string) => client.escapeLiteral(text),
  };
  const tx = new Proxy(Object.create(null) as object, {
    get(_target, property) {
      if (typeof property === "string" && (offered as ReadonlyArray<string>).includes(property))
        return members[property as (typeof offered)[number]];
      if (property === "release") throw new UnderwayError("ctx.tx is underway's: do not release it");
      // Promise machinery and inspection look for these; answer "none" instead of throwing.
      if (typeof property === "symbol" || property === "then" || property === "toJSON") return undefined;
      throw new UnderwayError(
        `ctx.tx has no ${JSON.stringify(property)}: it offers ${offered.join(", ")} (the wire connection and the client behind it are underway's)`,
      );
    },
    set() {
      throw new UnderwayError("ctx.tx cannot be changed");
    },
    defineProperty() {
      throw new UnderwayError("ctx.tx cannot be changed");
    },
  });
  return {
    client: tx as TransactionClient,
    close: () => {
      open = false;
    },
  };
};
