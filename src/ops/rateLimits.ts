import type { Db } from "../client/clientDeps.ts";
import { checkRateLimit, type RateLimit } from "../definition.ts";
import { orThrow } from "../errors.ts";
import { checkQueueName } from "../identifier.ts";
import type { RateLimitChange, RateLimitRow } from "../db/queueQueries.ts";
import type { RateLimitInfo } from "./types.ts";

// Keyed budgets listed by ops.rateLimit: the most recently used.
const keysShown = 20;

const rateLimitOf = (limit: number | null, periodMs: number | null): RateLimit | null =>
  limit === null || periodMs === null ? null : { limit, periodMs };

const infoOf = (queue: string, row: RateLimitRow | undefined): RateLimitInfo => {
  const rateLimit = row === undefined ? null : rateLimitOf(row.limit, row.periodMs);
  const setAt = row?.setAt ?? null;
  return {
    queue,
    rateLimit,
    source: setAt !== null ? "operator" : rateLimit !== null ? "definition" : "none",
    setAt,
    defined: row === undefined ? null : rateLimitOf(row.definedLimit, row.definedPeriodMs),
    used: row?.used ?? 0,
    nextStartAt: row?.nextStartAt ?? null,
    activeKeys: row?.activeKeys ?? 0,
    keys: (row?.keys ?? []).map((use) => ({
      key: use.key,
      used: use.used,
      nextStartAt: use.nextStartAt === null ? null : new Date(use.nextStartAt),
    })),
  };
};

/** A queue's rate limit and its budgets' use now (`ops.rateLimit`). */
export const rateLimitInfo = async (db: Db, queue: string): Promise<RateLimitInfo> => {
  const name = checkQueueName(queue);
  return infoOf(
    name,
    await orThrow(db.store.queuesGetRateLimit(db.pool, { queue: name, keys: keysShown })()),
  );
};

/**
 * Stores an operator's rate limit setting for `queue` (`ops.setRateLimit`,
 * `ops.clearRateLimit`): checked first, then written; the workers of the
 * queue in every process wake, so it applies at their next claim.
 */
export const changeRateLimit = async (
  db: Db,
  queue: string,
  what: string,
  setting: RateLimit | null | "definition",
): Promise<RateLimitInfo> => {
  const name = checkQueueName(queue);
  let change: RateLimitChange;
  if (setting === "definition") change = { mode: "definition" };
  else if (setting === null) change = { mode: "off" };
  else change = { mode: "set", ...checkRateLimit(what, setting) };
  await orThrow(db.store.queuesSetRateLimit(db.pool, { queue: name, change })());
  return rateLimitInfo(db, name);
};
