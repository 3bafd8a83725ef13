import type pg from "pg";
import * as E from "fp-ts/lib/Either.js";
import { messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { StatDeltas } from "../db/statsQueries.ts";
import type { Store } from "../db/store.ts";

/** What the throughput counters count. */
export type CounterName = "enqueued" | "succeeded" | "failed" | "retried" | "cancelled";

type Counts = Record<CounterName, number>;

const zero = (): Counts => ({ enqueued: 0, succeeded: 0, failed: 0, retried: 0, cancelled: 0 });

/** Buckets older than this are pruned. */
const keepDays = 7;
const pruneEveryMs = 3_600_000;
/** Deltas kept across failed flushes before the oldest are dropped, so a long outage cannot grow memory. */
const maxBuckets = 10_000;

/**
 * One client's throughput counts per queue and minute. Counting is a map
 * update in memory (the per-task hot path never writes); every `flushMs`
 * while anything was counted, the deltas go out in one upsert that adds
 * them to `queue_stat`, so any number of clients sum up. Buckets are the
 * client's clock's minutes.
 */
export class ThroughputCounters {
  private counts = new Map<string, { queue: string; bucket: number; counts: Counts }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private lastPruneAt = 0;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly flushMs = 5_000,
  ) {}

  /** Counts `n` of `name` for `queue`, now. */
  count(queue: string, name: CounterName, n = 1): void {
    if (n <= 0) return;
    const bucket = Math.floor(Date.now() / 60_000) * 60_000;
    const key = `${queue}\u0000${bucket}`;
    let entry = this.counts.get(key);
    if (entry === undefined) {
      if (this.counts.size >= maxBuckets) return;
      entry = { queue, bucket, counts: zero() };
      this.counts.set(key, entry);
    }
    entry.counts[name] += n;
    this.arm();
  }

  /** Counts a worker's outcome by its tag. */
  countOutcome(queue: string, tag: string): void {
    if (tag === "succeeded" || tag === "stepSucceeded") this.count(queue, "succeeded");
    else if (tag === "failed") this.count(queue, "failed");
    else if (tag === "retrying") this.count(queue, "retried");
    else if (tag === "cancelled") this.count(queue, "cancelled");
  }

  private arm(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushMs);
    // Counters never keep a process alive; close() flushes what is left.
    this.timer.unref();
  }

  /** Writes what was counted since the last flush (one statement); resolves once written or given up. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    const entries = [...this.counts.values()];
    if (entries.length > 0) {
      this.counts = new Map();
      const deltas: StatDeltas = {
        queues: entries.map((e) => e.queue),
        buckets: entries.map((e) => new Date(e.bucket)),
        enqueued: entries.map((e) => e.counts.enqueued),
        succeeded: entries.map((e) => e.counts.succeeded),
        failed: entries.map((e) => e.counts.failed),
        retried: entries.map((e) => e.counts.retried),
        cancelled: entries.map((e) => e.counts.cancelled),
      };
      const written = await this.store.queueStatsAdd(this.pool, deltas)();
      if (E.isLeft(written)) {
        this.log.warn("could not write throughput counters; they are kept for the next flush", {
          error: messageOf(written.left.cause),
        });
        // Added back: counts made meanwhile add up with them.
        for (const entry of entries)
          for (const [name, n] of Object.entries(entry.counts))
            this.restore(entry.queue, entry.bucket, name as CounterName, n);
        this.arm();
      }
    }
    if (Date.now() - this.lastPruneAt > pruneEveryMs) {
      this.lastPruneAt = Date.now();
      const pruned = await this.store.queueStatsPrune(this.pool, { keepDays })();
      if (E.isLeft(pruned))
        this.log.warn("could not prune throughput counters", { error: messageOf(pruned.left.cause) });
    }
  }

  private restore(queue: string, bucket: number, name: CounterName, n: number): void {
    const key = `${queue}\u0000${bucket}`;
    const entry = this.counts.get(key) ?? { queue, bucket, counts: zero() };
    entry.counts[name] += n;
    this.counts.set(key, entry);
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.counts.size > 0) await this.flush();
    else await this.flushing;
  }
}
