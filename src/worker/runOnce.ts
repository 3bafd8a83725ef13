import * as E from "fp-ts/lib/Either.js";
import { Subject, type SchedulerLike } from "rxjs";
import { publicError } from "../errors.ts";
import type { Outcome } from "../outcomes.ts";
import type { ClaimedRow } from "../db/claimQueries.ts";
import type { Listener } from "../notify/listener.ts";
import { Admissions } from "./admissions.ts";
import { attempt } from "./attempt.ts";
import { inlineCompleter } from "./completer.ts";
import { deadlinesOn } from "./deadlines.ts";
import { outcomeBaseOf, stopTask, type ExecuteDeps, type RunningTask } from "./execute.ts";
import { LocalTasks } from "./localTasks.ts";
import { upkeep$ } from "./upkeep.ts";
import { checkWorkOptions } from "./workOptions.ts";

/** How `runOnce` and `drain` run a task in the calling process. */
export interface RunOnceOptions {
  /**
   * Aborts the running handler (its signal fires with an `AbortError` of
   * kind `shutdown`; the task goes back to pending at once) and, for
   * `drain`, stops claiming. Already aborted: nothing is claimed.
   */
  readonly signal?: AbortSignal | undefined;
  /** @internal Stops claiming (the client is closing); running handlers go on. */
  readonly stopClaiming?: AbortSignal | undefined;
}

/** What `drain` takes. */
export interface DrainOptions extends RunOnceOptions {
  /** Runs until no task is due now. The only mode so far; the default. */
  readonly until?: "empty";
  /** Tasks run at once. Default 1. */
  readonly concurrency?: number;
}

/** What `drain` did: how many tasks it ran, by how their attempt ended. */
export interface DrainResult {
  /** Attempts run. */
  readonly ran: number;
  /** Attempts that succeeded. */
  readonly succeeded: number;
  /** Failed attempts that will run again later (a drain does not wait for them). */
  readonly retrying: number;
  /** Attempts whose handler snoozed (`snooze(ms)`): pending again, no attempt spent; a drain does not wait for them. */
  readonly snoozed: number;
  /** Failed for good (and dead-lettered, with a DLQ). */
  readonly failed: number;
  /** Attempts that ended with their task cancelled. */
  readonly cancelled: number;
  /** Attempts whose result was not this call's to write: the lease was lost or the write fenced off. */
  readonly lost: number;
}

export interface RunOnceDeps<I, O> extends Omit<
  ExecuteDeps<I, O>,
  "completer" | "now" | "deadlines" | "admissions"
> {
  readonly listener: Listener;
  readonly workerId: string;
  /** Lease renewals and handler timeouts run on it: `asyncScheduler`, or virtual time in tests. */
  readonly scheduler: SchedulerLike;
}

/** One claim-and-run: `claimed: false` when no task was due. */
export type RunOne<O> =
  { readonly claimed: false } | { readonly claimed: true; readonly outcome: Outcome<O> | undefined };

/**
 * What one runOnce or drain call runs its tasks on, as a worker does: the
 * tasks it holds, whose leases the upkeep renews and whose cancels it hears
 * (./upkeep.ts), and what their attempts need (./attempt.ts), with a
 * completer that writes each success at once.
 */
interface Session<I, O> {
  readonly deps: RunOnceDeps<I, O>;
  readonly execute: ExecuteDeps<I, O>;
  readonly tasks: LocalTasks;
  /** Each claimed task's lease length: the renewal tick follows the shortest. */
  readonly leases: Subject<number>;
}

/**
 * Runs `run` with a session: the upkeep (renewals on `deps.scheduler`,
 * cancel requests) runs meanwhile, and `options.signal` reaches every task
 * running here as a worker's shutdown past its grace period does
 * (`stopTask`). Listens for cancels before `run` claims, so a cancel right
 * after a claim is heard.
 */
const inSession = async <I, O, A>(
  deps: RunOnceDeps<I, O>,
  options: RunOnceOptions,
  run: (session: Session<I, O>) => Promise<A>,
): Promise<A> => {
  const { scheduler } = deps;
  // A worker's default renewal tick (faster for leases under four ticks).
  const { heartbeatTickMs } = checkWorkOptions();
  const tasks = new LocalTasks();
  const leases = new Subject<number>();
  const deadlines = deadlinesOn(scheduler);
  const execute: ExecuteDeps<I, O> = {
    ...deps,
    completer: inlineCompleter(deps.store, deps.pool),
    now: () => scheduler.now(),
    deadlines,
    admissions: new Admissions(deps),
  };
  const upkeep = upkeep$({ ...deps, heartbeatTickMs }, tasks, leases).subscribe();
  const stop = () => {
    for (const task of tasks.all()) stopTask(task);
  };
  options.signal?.addEventListener("abort", stop, { once: true });
  try {
    await deps.listener.ready(`${deps.schema}.cancel`);
    return await run({ deps, execute, tasks, leases });
  } finally {
    options.signal?.removeEventListener("abort", stop);
    upkeep.unsubscribe();
    deadlines.close();
  }
};

/**
 * Claims at most one due task and runs it here, with what a worker gives a
 * task: its lease renewed while it runs, its signal fired on timeout, cancel
 * (NOTIFY) or a lost lease, its verdict written fenced by the attempt (in
 * the handler's transaction for a transactional handler).
 */
export const runOne = <I, O>(deps: RunOnceDeps<I, O>, options: RunOnceOptions = {}): Promise<RunOne<O>> =>
  inSession(deps, options, (session) => claimAndRun(session, options));

// A function, not a property read: TypeScript would keep its narrowing across awaits.
const aborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

/** Claims one task and runs its attempt (./attempt.ts), as a worker would. */
const claimAndRun = async <I, O>(session: Session<I, O>, options: RunOnceOptions): Promise<RunOne<O>> => {
  const { deps, execute, tasks } = session;
  if (aborted(options.signal) || aborted(options.stopClaiming)) return { claimed: false };
  const claimStarted = performance.now();
  const claimed = await deps.store.tasksClaim(deps.pool, {
    queue: deps.queue,
    limit: 1,
    workerId: deps.workerId,
  })();
  deps.events.claimed(
    deps.queue,
    E.isRight(claimed) ? claimed.right.length : 0,
    performance.now() - claimStarted,
  );
  if (E.isLeft(claimed)) throw publicError(claimed.left);
  const row: ClaimedRow | undefined = claimed.right[0];
  if (row === undefined) return { claimed: false };
  const task = tasks.hold(row, deps.scheduler.now());
  session.leases.next(row.heartbeatMs);
  // The signal fired while the claim was under way.
  if (aborted(options.signal)) stopTask(task);
  try {
    // A task claimed here starts at once (the claim started it), so it is
    // never given back unstarted: `undefined` would mean just that.
    const handled = await attempt(execute, task);
    if (handled === undefined) return { claimed: false };
    const outcome = await told(deps, task, await handled.written);
    deps.events.ended(deps.queue, task, outcome);
    return { claimed: true, outcome };
  } finally {
    tasks.forget(task);
  }
};

/**
 * What the caller is told: the outcome written, or for an attempt taken
 * away (nothing written by it) whose task a cancel ended, `cancelled`
 * rather than nothing. A worker has no caller to tell: outcome streams hear
 * of a cancel from the database.
 */
const told = async <I, O>(
  deps: RunOnceDeps<I, O>,
  task: RunningTask,
  outcome: Outcome<O> | undefined,
): Promise<Outcome<O> | undefined> => {
  if (outcome !== undefined || !task.abort.aborted) return outcome;
  const { row } = task;
  const current = await deps.store.tasksGet(deps.pool, { id: row.id })();
  return E.isRight(current) && current.right?.state === "cancelled" && current.right.attempt === row.attempt
    ? { ...outcomeBaseOf(deps.queue, row), _tag: "cancelled" }
    : undefined;
};

/**
 * Runs due tasks here until none is due (tasks that fall due meanwhile
 * are run too; retries scheduled for later are not waited for). Returns
 * expired leases to pending first, as a worker's reaper would, so a drain
 * also picks up tasks a crashed worker left behind.
 */
export const drain = async <I, O>(
  deps: RunOnceDeps<I, O>,
  options: DrainOptions = {},
): Promise<DrainResult> => {
  const counts = { ran: 0, succeeded: 0, retrying: 0, snoozed: 0, failed: 0, cancelled: 0, lost: 0 };
  const { concurrency } = checkWorkOptions({ concurrency: options.concurrency ?? 1 });
  const reaped = await deps.store.tasksReap(deps.pool, { limit: 500 })();
  if (E.isLeft(reaped)) throw publicError(reaped.left);
  deps.events.reaped(reaped.right);
  // One session for all loops: one upkeep renews every task running here.
  return inSession(deps, options, async (session) => {
    const loop = async (): Promise<void> => {
      while (options.signal?.aborted !== true && options.stopClaiming?.aborted !== true) {
        const one = await claimAndRun(session, options);
        if (!one.claimed) return;
        counts.ran += 1;
        if (one.outcome === undefined) counts.lost += 1;
        else counts[one.outcome._tag] += 1;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
    return counts;
  });
};
