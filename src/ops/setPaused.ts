import type { Db } from "../client/clientDeps.ts";
import { queuesSetPaused } from "../db/queueQueries.ts";
import { orThrow } from "../errors.ts";
import { checkQueueName } from "../identifier.ts";

/** Pauses or resumes a queue in every process (`underway.pauseQueue`, `ops.pause`). */
export const setPaused = async (db: Db, queue: string, paused: boolean): Promise<void> => {
  checkQueueName(queue);
  await orThrow(queuesSetPaused(db.sql, db.pool, { queue, paused })());
};
