import type { Db } from "../client/clientDeps.ts";
import { ConfigError, orThrow } from "../errors.ts";
import { checkQueueName } from "../identifier.ts";
import type { MaxPendingRow } from "../db/queueQueries.ts";
import type { MaxPendingInfo } from "./types.ts";

const infoOf = (queue: string, row: MaxPendingRow | undefined): MaxPendingInfo => {
  const setAt = row?.setAt ?? null;
  return {
    queue,
    source: setAt === null ? "definition" : "operator",
    maxPending: setAt === null ? null : (row?.maxPending ?? null),
    setAt,
    counted: row?.counted ?? null,
  };
};

/** A queue's stored cap setting (`ops.maxPending`). */
export const maxPendingInfo = async (db: Db, queue: string): Promise<MaxPendingInfo> => {
  const name = checkQueueName(queue);
  return infoOf(name, await orThrow(db.store.queuesGetMaxPending(db.pool, { queue: name })()));
};

/**
 * Stores an operator's cap for `queue` (`ops.setMaxPending`; null: no cap)
 * or clears it (`ops.clearMaxPending`): checked first, then written; the
 * next capped enqueue in any process reads it.
 */
export const changeMaxPending = async (
  db: Db,
  queue: string,
  what: string,
  setting: number | null | "definition",
): Promise<MaxPendingInfo> => {
  const name = checkQueueName(queue);
  if (typeof setting === "number" && !(Number.isInteger(setting) && setting >= 0 && setting <= 2_147_483_647))
    throw new ConfigError(
      `${what}: maxPending must be an integer from 0 to 2147483647 or null, got ${String(setting).slice(0, 40)}`,
    );
  if (setting !== null && setting !== "definition" && typeof setting !== "number")
    throw new ConfigError(`${what}: maxPending must be an integer or null, got ${typeof setting}`);
  const mode = setting === "definition" ? "definition" : setting === null ? "off" : "set";
  const cap = typeof setting === "number" ? setting : null;
  const row = await orThrow(db.store.queuesSetMaxPending(db.pool, { queue: name, mode, cap })());
  // Refused by the statement, which wrote nothing: a cap the queue's
  // enqueues would never check must not look set.
  if (row === undefined)
    throw new ConfigError(
      `${what}: queue ${JSON.stringify(name)} does not count its pending tasks, so a cap would never apply: ` +
        "the last definition of it registered (by an enqueue, a worker or declare) has no maxPending. " +
        "Give the definition a maxPending (an operator's cap then wins over it), then set this again; nothing was written",
    );
  return infoOf(name, row);
};
