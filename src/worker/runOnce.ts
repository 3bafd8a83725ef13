import * as E from "fp-ts/lib/Either.js";
import { publicError } from "../errors.ts";
import type { Outcome } from "../outcomes.ts";
import { tasksClaim, type ClaimedRow } from "../db/claimQueries.ts";
import { tasksHeartbeat, tasksReap } from "../db/leaseQueries.ts";
import { tasksGet } from "../db/taskQueries.ts";
import { Completions } from "./completions.ts";
import {
  abortTask,
  applyRenewal,
  outcomeBaseOf,
  runAttempt,
  type ExecuteDeps,
  type RunningTask,
  runningTask,
} from "./execute.ts";
import { recordAttempt } from "./record.ts";
import type { Listener } from "../notify/listener.ts";
import { checkWorkOptions } from "./workOptions.ts";
import { runTransactionalAttempt } from "./transactionalAttempt.ts";

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
  /** Failed for good (and dead-lettered, with a DLQ). */
  readonly failed: number;
  /** Attempts that ended with their task cancelled. */
  readonly cancelled: number;
  /** Attempts whose result was not this call's to write: the lease was lost or the write fenced off. */
  readonly lost: number;
}

export interface RunOnceDeps<I, O> extends Omit<ExecuteDeps<I, O>, "completions"> {
  readonly listener: Listener;
  readonly workerId: string;
}

/** One claim-and-run: `claimed: false` when no task was due. */
export type RunOne<O> =
  { readonly claimed: false } | { readonly claimed: true; readonly outcome: Outcome<O> | undefined };

/**
 * Claims at most one due task and runs it here, with what a worker gives a
 * task: its lease renewed while it runs, its signal fired on timeout, cancel
 * (NOTIFY) or a lost lease, its verdict written fenced by the attempt (in
 * the handler's transaction for a transactional handler).
 */
export const runOne = async <I, O>(
  deps: RunOnceDeps<I, O>,
  options: RunOnceOptions = {},
): Promise<RunOne<O>> => {
  // Listening before the claim, so a cancel right after it is heard.
  const cancelChannel = `${deps.sql.schema}.cancel`;
  let task: RunningTask | undefined;
  const cancels = deps.listener.channel$(cancelChannel).subscribe((id) => {
    if (task !== undefined && id === task.row.id) abortTask(task, "cancelled");
  });
  try {
    await deps.listener.ready(cancelChannel);
    if (options.signal?.aborted === true || options.stopClaiming?.aborted === true) return { claimed: false };
    const claimStarted = performance.now();
    const claimed = await tasksClaim(deps.sql, deps.pool, {
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
    const running: RunningTask = { ...runningTask(row), started: true };
    task = running;
    const outcome = await runClaimed(deps, running, options);
    deps.events.ended(deps.queue, running, outcome);
    return { claimed: true, outcome };
  } finally {
    cancels.unsubscribe();
  }
};

const runClaimed = async <I, O>(
  deps: RunOnceDeps<I, O>,
  task: RunningTask,
  options: RunOnceOptions,
): Promise<Outcome<O> | undefined> => {
  const { row } = task;
  const renew = async () => {
    const renewed = await tasksHeartbeat(deps.sql, deps.pool, { ids: [row.id], attempts: [row.attempt] })();
    // A failed renewal is tried again on the next tick, as in a worker.
    if (E.isRight(renewed)) applyRenewal(task, renewed.right[0]);
  };
  const heartbeat = setInterval(() => void renew(), Math.max(10, Math.floor(row.heartbeat_ms / 3)));
  const onAbort = () => abortTask(task, "shutdown");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted === true) onAbort();
  try {
    const executeDeps: ExecuteDeps<I, O> = { ...deps, completions: new Completions(deps.sql, deps.pool) };
    const outcome =
      deps.transactional?.(row) === true
        ? await runTransactionalAttempt(executeDeps, task)()
        : await recordAttempt(executeDeps, task)(await runAttempt(executeDeps)(task)())();
    if (outcome !== undefined || !task.abort.aborted) return outcome;
    // Taken away: a cancel wrote the task's state itself; say so rather than nothing.
    const current = await tasksGet(deps.sql, deps.pool, { id: row.id })();
    return E.isRight(current) && current.right?.state === "cancelled" && current.right.attempt === row.attempt
      ? { ...outcomeBaseOf(deps.queue, row), _tag: "cancelled" }
      : undefined;
  } finally {
    clearInterval(heartbeat);
    options.signal?.removeEventListener("abort", onAbort);
  }
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
  const counts = { ran: 0, succeeded: 0, retrying: 0, failed: 0, cancelled: 0, lost: 0 };
  const reaped = await tasksReap(deps.sql, deps.pool, { limit: 500 })();
  if (E.isLeft(reaped)) throw publicError(reaped.left);
  deps.events.reaped(reaped.right);
  const loop = async (): Promise<void> => {
    while (options.signal?.aborted !== true && options.stopClaiming?.aborted !== true) {
      const one = await runOne(deps, options);
      if (!one.claimed) return;
      counts.ran += 1;
      if (one.outcome === undefined) counts.lost += 1;
      else counts[one.outcome._tag] += 1;
    }
  };
  await Promise.all(
    Array.from({ length: checkWorkOptions({ concurrency: options.concurrency ?? 1 }).concurrency }, loop),
  );
  return counts;
};
