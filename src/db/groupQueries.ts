import { defineQuery, nothing } from "./query.ts";

/** One group of a queue as opsQueueGroups reads it. */
export interface GroupRow {
  readonly group: string;
  /** Pending tasks, counted up to the bound plus one. */
  readonly pending: number;
  readonly running: number;
  readonly weight: number;
  readonly weightSet: boolean;
  readonly lastTurn: boolean;
}

/** A queue's groups in key order, at most `limit`; pending counts bounded at `bound` + 1. */
export const opsQueueGroups = defineQuery<
  { readonly queue: string; readonly bound: number; readonly limit: number },
  GroupRow
>("opsQueueGroups", ["queue", "bound", "limit"]);

/** Sets a group's weight (tasks per turn). */
export const groupWeightsUpsert = defineQuery<{
  readonly queue: string;
  readonly group: string;
  readonly weight: number;
}>("groupWeightsUpsert", ["queue", "group", "weight"]).map(nothing);

/** A group's weight back to the default, 1. */
export const groupWeightsDelete = defineQuery<{ readonly queue: string; readonly group: string }>(
  "groupWeightsDelete",
  ["queue", "group"],
).map(nothing);
