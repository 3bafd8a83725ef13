import * as E from "fp-ts/lib/Either.js";
import type { OptionShape } from "../optionShape.ts";
import { Observable, defer, filter, firstValueFrom, merge, mergeMap, timer } from "rxjs";
import { publicError } from "../errors.ts";
import type { OutcomeDeps } from "../client/clientDeps.ts";

/** What `outcome()` takes: how often the row is read as a fallback, at most. */
export const outcomeOptionShape: OptionShape = {
  pollIntervalMs: { type: "number", min: 1, max: 2_147_483_647 },
};

/**
 * The first final outcome among notifications and reads of the row: the
 * read starts once LISTEN is active and repeats as a fallback for a lost
 * notification, so it also finds outcomes that came before the call.
 */
export const firstFinal = <T extends { readonly _tag: string }>(
  deps: OutcomeDeps,
  notified$: Observable<T>,
  read: () => Promise<T | undefined>,
  pollIntervalMs = 1_000,
): Promise<Exclude<T, { _tag: "retrying" | "snoozed" }>> => {
  const final = (outcome: T | undefined): outcome is Exclude<T, { _tag: "retrying" | "snoozed" }> =>
    outcome !== undefined &&
    outcome._tag !== "retrying" &&
    outcome._tag !== "snoozed" &&
    outcome._tag !== "stepSucceeded" &&
    outcome._tag !== "fannedOut";
  // Reads at 0, 1, 2, 4, 8, 16 polls, then every 30: many waiters on long
  // tasks cost little, and a lost notification is still found.
  const read$ = defer(() => deps.listening()).pipe(
    mergeMap(() => timer(0, pollIntervalMs)),
    filter((n) => (n & (n - 1)) === 0 || n % 30 === 0),
    mergeMap(read),
  );
  // closed$ errors when the client closes: a wait still pending then rejects with ClosedError.
  return firstValueFrom(merge(notified$, read$, deps.closed$).pipe(filter(final)));
};

/**
 * A waiter's fallback read of a task row, batched with other waiters'
 * reads. A transient database error is `"retry"` (the next poll reads
 * again): a waiter outlives a busy pool or a restart as workers do.
 */
export const readRow = async (deps: OutcomeDeps, taskId: string) => {
  const read = await deps.outcomeFeed.read(taskId);
  if (E.isRight(read)) return read.right;
  if (read.left.transient) return "retry" as const;
  throw publicError(read.left);
};
