import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type pg from "pg";
import * as E from "fp-ts/lib/Either.js";
import { messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../db/store.ts";

/** How often a client running workers renews its row. */
export const workerHeartbeatMs = 10_000;
/** A row this old is dead: ignored by reads, pruned by the next heartbeat of any client. */
export const workerDeadAfterSeconds = 30;

/**
 * The worker registry's side in one client: one row for the whole client
 * (not one per worker), written when a worker starts or stops and renewed
 * every {@link workerHeartbeatMs} while any runs; deleted when the last
 * stops or the client closes. Nothing here touches the per-task path.
 */
export class WorkerRegistry {
  /** This client's row id. */
  readonly id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly workers = new Map<number, { readonly queue: string; readonly concurrency: number }>();
  private nextKey = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private used = false;

  constructor(
    private readonly store: Store,
    private readonly pool: pg.Pool,
    private readonly log: Logger,
  ) {}

  /** Registers a running worker; returns its removal. */
  add(queue: string, concurrency: number): () => void {
    const key = this.nextKey++;
    this.used = true;
    this.workers.set(key, { queue, concurrency });
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.beat(), workerHeartbeatMs);
      this.timer.unref();
    }
    void this.beat();
    return () => {
      if (!this.workers.delete(key)) return;
      if (this.workers.size === 0) this.stopTimer();
      void this.beat();
    };
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Writes the current state; writes are chained so an old state never lands after a newer one. */
  private beat(): Promise<void> {
    this.writing = this.writing.then(() => this.write());
    return this.writing;
  }

  private async write(): Promise<void> {
    const perQueue = new Map<string, number>();
    for (const { queue, concurrency } of this.workers.values())
      perQueue.set(queue, (perQueue.get(queue) ?? 0) + concurrency);
    const queues = [...perQueue].map(([queue, concurrency]) => ({ queue, concurrency }));
    const result =
      queues.length === 0
        ? await this.store.workerProcessesDelete(this.pool, { id: this.id })()
        : await this.store.workerProcessesUpsert(this.pool, {
            id: this.id,
            host: hostname(),
            pid: process.pid,
            queues: JSON.stringify(queues),
            deadAfterSeconds: workerDeadAfterSeconds,
          })();
    if (E.isLeft(result))
      this.log.warn("could not write the worker registry; workers run on", {
        error: messageOf(result.left.cause),
      });
  }

  /** Stops the heartbeat and deletes this client's row. */
  async close(): Promise<void> {
    this.workers.clear();
    this.stopTimer();
    // A client that never ran a worker has no row and costs no statement.
    if (this.used) await this.beat();
  }
}
