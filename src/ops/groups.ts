import type { Db } from "../client/clientDeps.ts";
import { ConfigError, orThrow } from "../errors.ts";
import { checkQueueName } from "../identifier.ts";
import { checkOptionShape } from "../optionShape.ts";
import { keyProblem } from "../options.ts";
import { exactCountBound } from "./queueStats.ts";
import type { GroupStats } from "./types.ts";

/** The most groups one call lists. */
export const maxGroupsListed = 1_000;

/** The heaviest weight a group may have: tasks per turn. */
export const maxGroupWeight = 1_000;

const checkGroup = (group: unknown): string => {
  if (typeof group !== "string") throw new ConfigError(`group must be a string, got ${typeof group}`);
  const problem = keyProblem("group", group);
  if (problem !== undefined) throw new ConfigError(problem);
  return group;
};

/** A queue's groups with their pending and running tasks and weights; see `Ops.groups`. */
export const queueGroups = async (
  db: Db,
  queue: string,
  options: { readonly limit?: number } = {},
): Promise<ReadonlyArray<GroupStats>> => {
  const name = checkQueueName(queue);
  checkOptionShape("groups options", options, { limit: "integer" });
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > maxGroupsListed)
    throw new ConfigError(
      `groups: limit must be an integer from 1 to ${maxGroupsListed}, got ${String(limit)}`,
    );
  const rows = await orThrow(
    db.store.opsQueueGroups(db.pool, { queue: name, bound: exactCountBound, limit })(),
  );
  return rows.map((row) => ({
    group: row.group,
    pending: { count: row.pending, approximate: row.pending > exactCountBound },
    running: row.running,
    weight: row.weight,
    weightSet: row.weightSet,
    lastTurn: row.lastTurn,
  }));
};

/** Sets (or with null, clears) a group's weight; see `Ops.setGroupWeight`. */
export const setGroupWeight = async (
  db: Db,
  queue: string,
  group: string,
  weight: number | null,
): Promise<void> => {
  const name = checkQueueName(queue);
  const key = checkGroup(group);
  if (weight === null) {
    await orThrow(db.store.groupWeightsDelete(db.pool, { queue: name, group: key })());
    return;
  }
  if (typeof weight !== "number" || !Number.isInteger(weight) || weight < 1 || weight > maxGroupWeight)
    throw new ConfigError(
      `group weight must be an integer from 1 to ${maxGroupWeight} (or null for the default), got ${String(weight).slice(0, 40)}`,
    );
  await orThrow(db.store.groupWeightsUpsert(db.pool, { queue: name, group: key, weight })());
};
