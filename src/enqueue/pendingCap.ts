import type pg from "pg";
import type { JobDefinition } from "../definition.ts";
import { QueueFullError, orThrow } from "../errors.ts";
import { inTransaction } from "../inTransaction.ts";
import type { Queryable } from "../db/query.ts";
import type { ProducerDeps } from "../client/clientDeps.ts";

/** What an insert under a cap reports: its result, and how many new tasks it wrote. */
export interface Inserted<A> {
  readonly result: A;
  readonly created: number;
}

// A pg.Pool hands each query to any of its clients: a savepoint on it would
// not protect the insert. Recognised by a field only pools have.
const isPool = (db: Queryable): db is pg.Pool => "totalCount" in db && "idleCount" in db;

/**
 * Runs `insert` within a transaction: the caller's (`client`, inside a
 * savepoint when the queue is capped, so a rejection undoes this insert
 * only), or one of its own. For a queue with `maxPending`, then checks the
 * queue's pending count under its cap lock (held to commit, so concurrent
 * enqueues are admitted one after the other) and, past the cap, undoes the
 * insert and throws `QueueFullError`. A queue without a cap costs nothing
 * here when `needsTransaction` is false: `insert` runs on `db` as before.
 */
export const withPendingCap = async <In, V, R, O, A>(
  deps: ProducerDeps,
  definition: JobDefinition<In, V, R, O>,
  client: Queryable | undefined,
  needsTransaction: boolean,
  insert: (db: Queryable) => Promise<Inserted<A>>,
): Promise<A> => {
  const cap = definition.maxPending;
  const { queue } = definition;
  // Counted once the enqueue stands (past its cap check), so that a full
  // queue turning producers away does not show as enqueue throughput.
  const counted = ({ result, created }: Inserted<A>): A => {
    if (created > 0) deps.throughput.count(queue, "enqueued", created);
    return result;
  };
  if (cap === null && !needsTransaction) return counted(await insert(client ?? deps.pool));
  const checked = async (db: Queryable): Promise<Inserted<A>> => {
    const inserted = await insert(db);
    if (cap === null || inserted.created === 0) return inserted;
    const { created } = inserted;
    const row = await orThrow(
      deps.store.queuesCheckPending(db, { queue, definedCap: cap, adding: created })(),
    );
    if (row.cap !== null && row.pending !== null && row.pending > row.cap)
      throw new QueueFullError(queue, row.cap, Math.max(0, row.pending - created), created);
    return inserted;
  };
  if (client === undefined) return counted(await inTransaction(deps.pool, checked));
  if (isPool(client)) return counted(await inTransaction(client, checked));
  if (cap === null) return counted(await checked(client));
  // The caller's transaction: a rejection must undo this enqueue, not theirs.
  await client.query({ text: "savepoint underway_enqueue" });
  try {
    const inserted = await checked(client);
    await client.query({ text: "release savepoint underway_enqueue" });
    return counted(inserted);
  } catch (error) {
    await client.query({ text: "rollback to savepoint underway_enqueue" }).catch(() => undefined);
    throw error;
  }
};
