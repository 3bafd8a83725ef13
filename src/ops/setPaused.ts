import type { Db } from "../client/clientDeps.ts";
import { orThrow } from "../errors.ts";
import { checkQueueName } from "../identifier.ts";

/** Pauses or resumes a queue in every process (`underway.pauseQueue`, `ops.pause`). */
export const setPaused = async (db: Db, queue: string, paused: boolean): Promise<void> => {
  checkQueueName(queue);
  await orThrow(db.store.queuesSetPaused(db.pool, { queue, paused })());
};
