import * as t from "io-ts";

/** How many failed members a batch's completion lists at most (`failedIds`); `failed` is the exact count. */
export const batchFailedIdsCap = 1_000;

const completionFields = {
  /** The batch's id (`ops.batch(id)`). */
  batchId: t.string,
  /** The members' queue. */
  queue: t.string,
  /** How many members the batch has. */
  total: t.number,
  /** Members that succeeded. */
  succeeded: t.number,
  /** Members that failed for good (dead-lettered ones among them). */
  failed: t.number,
  /** Members cancelled (by the API or ops, by a start deadline) or deleted by ops before they ended. */
  cancelled: t.number,
  /** The first 1,000 members that failed, in the order they failed. */
  failedIds: t.array(t.string),
};

/**
 * The input of a batch's callback task, with its `context` checked by
 * `context` (any io-ts codec of JSON): use it as the callback definition's
 * input to have the context typed.
 *
 * @example
 * const report = defineJob({
 *   queue: "report",
 *   input: batchCompletion(t.type({ campaignId: t.string })),
 * });
 */
export const batchCompletion = <C extends t.Mixed>(context: C) => {
  const fields: typeof completionFields & {
    /** The `context` given to `enqueueBatch` (null when none was given). */
    readonly context: C;
  } = { ...completionFields, context };
  return t.type(fields, "BatchCompletion");
};

/**
 * The input of a batch's callback task (`enqueueBatch(inputs, { onComplete })`):
 * the batch's id and queue, how many members it had and how each ended, the
 * ids of the first 1,000 that failed, and the `context` given to
 * `enqueueBatch` (null when none was given). An io-ts codec: give it as the
 * callback definition's `input`.
 *
 * @example
 * const campaignDone = defineJob({ queue: "campaign-done", input: BatchCompletion });
 * await underway.job(sendEmail).enqueueBatch(inputs, { onComplete: campaignDone, context: { campaign: 7 } });
 */
export const BatchCompletion = batchCompletion(t.unknown);

/** A batch's completion, as its callback's handler receives it (see the codec of the same name). */
export type BatchCompletion = t.TypeOf<typeof BatchCompletion>;
