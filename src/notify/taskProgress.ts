import * as E from "fp-ts/lib/Either.js";
import * as t from "io-ts";
import { EMPTY, filter, from, mergeMap, of, type Observable } from "rxjs";
import { decodeJsonText, decodeWith } from "../codec.ts";
import { messageOf } from "../errors.ts";
import { guarded } from "../guarded.ts";
import type { JsonValue } from "../json.ts";
import type { OutcomeDeps } from "../client/clientDeps.ts";
import { retryTransient } from "../retry.ts";
import { yieldingBuffer } from "../worker/yieldingBuffer.ts";

/**
 * A task's progress as `ctx.progress` reported it, seen by `progress$`
 * subscribers of every process. Values arrive at the pace the definition's
 * `progressIntervalMs` allows (the latest wins), the last one before the
 * task's outcome.
 */
export interface TaskProgress {
  /** The task's id, as `enqueue` returned it. */
  readonly taskId: string;
  /** The task's queue. */
  readonly queue: string;
  /** The attempt that reported it (1-based). */
  readonly attempt: number;
  /** The job run's id, for steps of multi-step jobs; null for a plain task. */
  readonly jobId: string | null;
  /** Which step of the job run, 0-based; null for a plain task. */
  readonly stepIndex: number | null;
  /** The value passed to `ctx.progress`, as stored (JSON). */
  readonly value: JsonValue;
  /** When it was stored (the database's clock). */
  readonly at: Date;
}

/** The NOTIFY payload of db/queries/taskProgressSet.sql. */
const ProgressPayload = t.intersection([
  t.type({ id: t.string, queue: t.string, attempt: t.number, at: t.string }),
  t.partial({
    value: t.unknown,
    jobId: t.union([t.string, t.null]),
    stepIndex: t.union([t.number, t.null]),
    truncated: t.boolean,
  }),
]);

const decodeProgressPayload = decodeJsonText(decodeWith(ProgressPayload));

/**
 * The progress of one queue's tasks from every process, a buffer per
 * subscriber (as `outcomes$`). A value too large for NOTIFY is read from
 * its row, by the subscriber's process (retried while transient, then
 * logged and skipped). A callback that throws is logged and ignored.
 */
export const queueProgress$ = (deps: OutcomeDeps, queue: string): Observable<TaskProgress> => {
  const { log } = deps;
  const progress$ = deps.outcomeFeed.progressPayloads$.pipe(
    mergeMap((text): Observable<TaskProgress> => {
      const payload = decodeProgressPayload(text);
      if (E.isLeft(payload)) {
        log.warn("ignored a progress notification that is not underway's", { payload: text.slice(0, 200) });
        return EMPTY;
      }
      const p = payload.right;
      if (p.queue !== queue) return EMPTY;
      const base = {
        taskId: p.id,
        queue: p.queue,
        attempt: p.attempt,
        jobId: p.jobId ?? null,
        stepIndex: p.stepIndex ?? null,
      };
      if (p.truncated !== true)
        return of({ ...base, value: (p.value ?? null) as JsonValue, at: new Date(p.at) });
      return from(retryTransient(deps.store.taskProgressGet(deps.pool, { ids: [p.id] }))()).pipe(
        mergeMap((read) => {
          if (E.isLeft(read)) {
            log.error("could not read a task's progress that was too large to notify", {
              taskId: p.id,
              error: messageOf(read.left.cause),
            });
            return EMPTY;
          }
          const row = read.right[0];
          return row === undefined
            ? EMPTY
            : of({ ...base, value: row.value as JsonValue, at: row.updatedAt });
        }),
      );
    }),
    filter((progress) => progress.queue === queue),
    yieldingBuffer({
      onBacklog: (size) =>
        log.warn("a progress$ subscriber is falling behind; its values are buffered", { queue, size }),
    }),
  );
  return guarded(progress$, log, `progress$ of queue ${queue}`);
};
