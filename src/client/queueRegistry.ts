import type pg from "pg";
import type { JobDefinition } from "../definition.ts";
import { orThrow } from "../errors.ts";
import type { Store } from "../db/store.ts";

/**
 * The queues (and dead-letter queues) a client has recorded in the
 * database, once per client: redrive and inspection read them.
 */
export class QueueRegistry {
  private readonly registered = new Map<string, Promise<void>>();

  constructor(
    private readonly store: Store,
    /** Read when a registration runs: a closed client's pool throws `ClosedError`. */
    private readonly pool: () => pg.Pool,
  ) {}

  /** Records the queue and its DLQ; a DLQ that exists keeps its own DLQ. */
  register(
    definition: Pick<JobDefinition<unknown, unknown, unknown, unknown>, "queue" | "dlq">,
  ): Promise<void> {
    const key = `${definition.queue}\u0000${definition.dlq ?? ""}`;
    let done = this.registered.get(key);
    if (done === undefined) {
      done = (async () => {
        if (definition.dlq !== null)
          await orThrow(
            this.store.queuesUpsert(this.pool(), { name: definition.dlq, dlq: null, overwriteDlq: false })(),
          );
        await orThrow(
          this.store.queuesUpsert(this.pool(), {
            name: definition.queue,
            dlq: definition.dlq,
            overwriteDlq: true,
          })(),
        );
      })();
      // A failed registration is tried again by the next call.
      done.catch(() => this.registered.delete(key));
      this.registered.set(key, done);
    }
    return done;
  }
}
