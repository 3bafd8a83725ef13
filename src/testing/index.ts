/**
 * `underway/testing`: test your handlers and steps without a database
 * ({@link perform}), and assert what your code enqueued against a real one
 * ({@link expectEnqueued}, {@link enqueuedTasks}). See docs/testing-your-jobs.md.
 *
 * @module underway/testing
 */
export {
  perform,
  type PerformOptions,
  type Performed,
  type PerformFailed,
  type PerformCancelled,
  type PerformSnoozed,
  type PerformedRun,
  type PerformedRunBase,
  type PerformedStep,
  type PerformFannedOut,
  type PerformedChild,
} from "./perform.ts";
export { performBatch, type PerformBatchOptions } from "./performBatch.ts";
export { NoDatabaseError, type PerformedReports } from "./offlineAttempt.ts";
export {
  enqueuedTasks,
  expectEnqueued,
  type EnqueuedTask,
  type EnqueuedOptions,
  type ExpectEnqueuedOptions,
  type EnqueuedMatch,
} from "./enqueued.ts";
export { matchesInput, type InputMatch } from "./inputMatch.ts";
