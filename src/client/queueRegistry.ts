import type pg from "pg";
import type { JobDefinition } from "../definition.ts";
import { orThrow } from "../errors.ts";
import type { Store } from "../db/store.ts";
import type { Logger } from "../log.ts";

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
    private readonly log: Logger,
  ) {}

  /**
   * Records the queue and its DLQ; a DLQ that exists keeps its own DLQ.
   * Also records whether this definition has a `maxPending`, that is,
   * whether its enqueues count the queue's pending tasks: an operator's cap
   * is refused for a queue whose last registered definition has none
   * (db/migrations/0025_counted_queues.sql).
   */
  register(
    definition: Pick<JobDefinition<unknown, unknown, unknown, unknown>, "queue" | "dlq" | "maxPending">,
  ): Promise<void> {
    const counted = definition.maxPending !== null;
    const key = `${definition.queue}\u0000${definition.dlq ?? ""}\u0000${String(counted)}`;
    let done = this.registered.get(key);
    if (done === undefined) {
      done = (async () => {
        if (definition.dlq !== null)
          await orThrow(
            this.store.queuesUpsert(this.pool(), {
              name: definition.dlq,
              dlq: null,
              overwriteDlq: false,
              counted: null,
            })(),
          );
        const operatorCap = await orThrow(
          this.store.queuesUpsert(this.pool(), {
            name: definition.queue,
            dlq: definition.dlq,
            overwriteDlq: true,
            counted,
          })(),
        );
        // An operator's cap stored before any definition registered (or
        // under an earlier one with a cap) that this definition's enqueues
        // will not check: said once per client, where the deploy shows it.
        if (!counted && operatorCap !== null)
          this.log.warn("the queue has an operator's cap on pending tasks that its enqueues do not check", {
            queue: definition.queue,
            operatorCap,
            why: "this definition has no maxPending, so its enqueues do not count pending tasks",
            fix: "give the definition a maxPending, or lift the cap (ops.clearMaxPending)",
          });
      })();
      // A failed registration is tried again by the next call.
      done.catch(() => this.registered.delete(key));
      this.registered.set(key, done);
    }
    return done;
  }
}
