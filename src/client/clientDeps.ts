import type pg from "pg";
import type { Observable, SchedulerLike } from "rxjs";
import type { JobDefinition } from "../definition.ts";
import { ConfigError } from "../errors.ts";
import type { Store } from "../db/store.ts";
import type { TaskEvents } from "../events/taskEvents.ts";
import type { Logger } from "../log.ts";
import type { Listener } from "../notify/listener.ts";
import type { OutcomeFeed } from "../notify/outcomeFeed.ts";
import type { ThroughputCounters } from "../ops/throughputCounters.ts";
import type { WorkerRegistry } from "../ops/workerRegistry.ts";
import type { Stoppable, Underway } from "../underway.ts";

/**
 * Everything a client's parts may need, built once by `Underway` (see
 * docs/design/explicit-deps.md). No part takes all of it: each takes one
 * of the narrow views below, so its signature says what it uses.
 */
export interface ClientDeps {
  /** Every statement the client runs, bound to its schema (src/db/store.ts). */
  readonly store: Store;
  /** The schema underway lives in: NOTIFY channels are `<schema>.<name>`. */
  readonly schema: string;
  /** The client's pool; reading it throws `ClosedError` once the client is closed. */
  readonly pool: pg.Pool;
  /** Where the client logs. */
  readonly log: Logger;
  /** The process's LISTEN connection. */
  readonly listener: Listener;
  /** Where producers and workers report the lifecycle; events$, metrics and tracing listen. */
  readonly lifecycle: TaskEvents;
  /** Throughput counts, flushed every few seconds (see `ops.throughput()`). */
  readonly throughput: ThroughputCounters;
  /** The client's row in the worker registry (see `ops.workers()`). */
  readonly workerRegistry: WorkerRegistry;
  /** Outcome notifications, shared by every outcome stream of the client. */
  readonly outcomeFeed: OutcomeFeed;
  /** Errors with a `ClosedError` once the client is closed: merged into waits so they end instead of hanging. */
  readonly closed$: Observable<never>;
  /**
   * Records a queue and its DLQ in the database, and whether the definition
   * counts pending tasks (`maxPending`), once per client (not refused while
   * closing: handlers may enqueue).
   */
  readonly register: (
    definition: Pick<JobDefinition<unknown, unknown, unknown, unknown>, "queue" | "dlq" | "maxPending">,
  ) => Promise<void>;
  /** A worker asks for expired leases to be reaped every `intervalMs` while it runs; call the result when it stops. */
  readonly requestReaping: (intervalMs: number, scheduler: SchedulerLike) => () => void;
  /** Throws `ClosedError` once `close()` was called: checked before starting anything. */
  readonly assertOpen: () => void;
  /** Workers, schedulers, retention loops and dashboards register here so `close()` stops them. */
  readonly track: (running: Stoppable) => () => void;
  /** Resolves once the LISTEN of every stream subscribed so far is active (`underway.listening()`). */
  readonly listening: () => Promise<void>;
}

/** The database: the schema's statements and the pool. */
export type Db = Pick<ClientDeps, "store" | "pool">;

/** The database and its schema, for the casts of generated filter conditions (ops lists). */
export type FilteredDb = Pick<ClientDeps, "store" | "schema" | "pool">;

/** What enqueueing needs: the database, the queue registry, the lifecycle report and the counters. */
export type ProducerDeps = Pick<ClientDeps, "store" | "pool" | "register" | "lifecycle" | "throughput">;

/** What cancelling a task needs: the database, and the counters for the pending tasks it cancels. */
export type CancelDeps = Pick<ClientDeps, "store" | "pool" | "throughput">;

/** What following outcomes needs: the shared feed, the row as a fallback, and the client's end. */
export type OutcomeDeps = Pick<
  ClientDeps,
  "store" | "pool" | "log" | "outcomeFeed" | "listening" | "closed$"
>;

/** What the inspection and admin API needs: the database, the counters and the lifecycle report (redrives). */
export type OpsDeps = Pick<ClientDeps, "store" | "schema" | "pool" | "throughput" | "lifecycle">;

/** What starting a worker (or `runOnce`/`drain`) needs. */
export type WorkerStarterDeps = Pick<
  ClientDeps,
  | "store"
  | "schema"
  | "pool"
  | "log"
  | "listener"
  | "lifecycle"
  | "requestReaping"
  | "register"
  | "assertOpen"
  | "track"
  | "workerRegistry"
>;

/** What a task type's handle (`Job`, `StepJob`) needs: what its enqueues, outcomes, cancels and workers need. */
export type JobDeps = ProducerDeps & CancelDeps & OutcomeDeps & WorkerStarterDeps;

/** What a scheduler needs: the database, the LISTEN connection (changes, shutdown), the log, and `close()`. */
export type SchedulerDeps = Pick<ClientDeps, "store" | "schema" | "pool" | "log" | "listener" | "track">;

/** What a retention loop needs: the database, the log, and `close()`. */
export type RetentionDeps = Pick<ClientDeps, "store" | "pool" | "log" | "track">;

/** What metrics and tracing need: the lifecycle report, and the ops API's reads for the gauges. */
export type MetricsDeps = OpsDeps & Pick<ClientDeps, "log">;

/** What the dashboard's live updates need: enqueue notifications and outcomes. */
export type LiveChangesDeps = Pick<ClientDeps, "schema" | "listener" | "outcomeFeed">;

// The one link from a client to its deps, for the public functions that
// take the client itself (schedule, redrive, metrics, the dashboard…).
// Keyed weakly: it holds no client alive, and two clients never share an
// entry, so it is no shared state (docs/design/explicit-deps.md says why a
// WeakMap rather than a member of the client).
const depsByClient = new WeakMap<Underway, ClientDeps>();

/** Links a client to its deps, once: called by `Underway`'s constructor. */
export const bindDeps = (client: Underway, deps: ClientDeps): void => {
  if (depsByClient.has(client)) throw new Error("a client's deps are bound once");
  depsByClient.set(client, deps);
};

/**
 * The deps of a client, for a public function that takes the client:
 * `prometheusMetrics(underway)`, `schedule(job, …)`, `redrive(underway, …)`.
 * A value that is not a client made by `Underway.connect` is a `ConfigError`.
 */
export const depsOf = (client: Underway): ClientDeps => {
  const deps = depsByClient.get(client);
  if (deps === undefined) throw new ConfigError("expected an underway client made by Underway.connect");
  return deps;
};
