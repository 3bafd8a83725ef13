import { AssertionError } from "node:assert";
import * as E from "fp-ts/lib/Either.js";
import { depsOf } from "../client/clientDeps.ts";
import type { JobDefinition } from "../definition.ts";
import { ValidationError, orThrow } from "../errors.ts";
import { checkOptionShape } from "../optionShape.ts";
import type { Underway } from "../underway.ts";
import { matchesInput, shown, type InputMatch } from "./inputMatch.ts";

/** A pending task of a definition's queue, its input decoded by the definition's schema. */
export interface EnqueuedTask<V> {
  /** The task's id, as `enqueue` returned it (a plain task's), or its first step's. */
  readonly id: string;
  /** The input, decoded as a handler receives it. */
  readonly input: V;
  /** When it is due. */
  readonly runAt: Date;
  /** Its priority. */
  readonly priority: number;
  /** Its concurrency key, or null. */
  readonly concurrencyKey: string | null;
  /** Its group, or null. */
  readonly group: string | null;
  /** For a multi-step job: the run's id, as its `enqueue` returned it; null for a plain task. */
  readonly jobId: string | null;
}

/** What {@link enqueuedTasks} and {@link expectEnqueued} read. */
export interface EnqueuedOptions {
  /** Read at most this many pending tasks of the queue, oldest first. Default 1,000. */
  readonly limit?: number | undefined;
}

/** What {@link expectEnqueued} asserts besides the match. */
export interface ExpectEnqueuedOptions extends EnqueuedOptions {
  /** Exactly this many pending tasks must match (0 asserts that none does). Default: at least one. */
  readonly count?: number | undefined;
}

/**
 * A partial deep pattern of the input (see {@link InputMatch}), or a
 * predicate given each task.
 */
export type EnqueuedMatch<V> = InputMatch<V> | ((input: V, task: EnqueuedTask<V>) => boolean);

const enqueuedShape = { limit: { type: "integer", min: 1, max: 100_000 } } as const;
const expectShape = { ...enqueuedShape, count: { type: "integer", min: 0, max: 100_000 } } as const;

const read = async <In, V, R, O>(
  underway: Underway,
  definition: JobDefinition<In, V, R, O>,
  limit: number,
): Promise<ReadonlyArray<EnqueuedTask<V>>> => {
  const { store, pool } = depsOf(underway);
  const rows = await orThrow(store.tasksListPending(pool, { queue: definition.queue, limit })());
  // A multi-step job's later steps hold what the step before handed on, not
  // the definition's input: only first steps are what producers enqueued.
  return rows
    .filter((row) => (row.stepIndex ?? 0) === 0)
    .map((row) => {
      const input = definition.input.load(row.input);
      if (E.isLeft(input))
        throw new ValidationError(
          `pending task ${row.id} of queue ${definition.queue} does not decode with this definition's input schema (was it enqueued through another definition of the queue?)`,
          input.left,
        );
      return {
        id: row.id,
        input: input.right,
        runAt: row.runAt,
        priority: row.priority,
        concurrencyKey: row.concurrencyKey,
        group: row.group,
        jobId: row.jobId,
      };
    });
};

/**
 * The pending tasks of a definition's queue (a multi-step job's runs not
 * yet started), oldest first, each input decoded by the definition's
 * schema: for a test that asserts what its code enqueued, against a real
 * database. A task another definition of the queue enqueued and this one
 * cannot decode is a `ValidationError`.
 *
 * @example
 * const [task] = await enqueuedTasks(underway, welcomeEmail);
 * assert.equal(task?.input.userId, 42);
 */
export const enqueuedTasks = async <In, V, R, O>(
  underway: Underway,
  definition: JobDefinition<In, V, R, O>,
  options: EnqueuedOptions = {},
): Promise<ReadonlyArray<EnqueuedTask<V>>> => {
  checkOptionShape("enqueuedTasks options", options, enqueuedShape);
  return read(underway, definition, options.limit ?? 1_000);
};

/**
 * Asserts that a pending task of the definition's queue has an input
 * matching `match` (a partial deep pattern, or a predicate; without one,
 * any task matches), and resolves with the tasks that match. Otherwise it
 * rejects with an `AssertionError` (node:assert's, which test runners
 * show) listing what the queue holds. `count` asks for exactly that many.
 *
 * @example
 * await signUp(user); // your code, which enqueues
 * await expectEnqueued(underway, welcomeEmail, { userId: user.id });
 * await expectEnqueued(underway, welcomeEmail, (input) => input.email.endsWith("@example.com"), { count: 1 });
 */
export const expectEnqueued = async <In, V, R, O>(
  underway: Underway,
  definition: JobDefinition<In, V, R, O>,
  match?: EnqueuedMatch<V>,
  options: ExpectEnqueuedOptions = {},
): Promise<ReadonlyArray<EnqueuedTask<V>>> => {
  checkOptionShape("expectEnqueued options", options, expectShape);
  const limit = options.limit ?? 1_000;
  const tasks = await read(underway, definition, limit);
  const matches = (task: EnqueuedTask<V>): boolean =>
    match === undefined
      ? true
      : typeof match === "function"
        ? (match as (input: V, task: EnqueuedTask<V>) => boolean)(task.input, task)
        : matchesInput(task.input, match);
  const found = tasks.filter(matches);
  const { count } = options;
  if (count === undefined ? found.length > 0 : found.length === count) return found;
  const wanted =
    (count === undefined ? "a pending task" : `${count} pending task(s)`) +
    (match === undefined ? "" : " matching");
  const pattern =
    match === undefined ? "" : typeof match === "function" ? " the predicate" : ` ${shown(match)}`;
  const listed = tasks.slice(0, 20).map((task) => `  #${task.id} ${shown(task.input)}`);
  const more = tasks.length > listed.length ? [`  … and ${tasks.length - listed.length} more`] : [];
  const cut = tasks.length >= limit ? ` (the first ${limit} read)` : "";
  throw new AssertionError({
    message: [
      `expected ${wanted}${pattern} in queue ${definition.queue}, found ${found.length}; ` +
        (tasks.length === 0 ? "the queue has no pending task" : `its pending tasks${cut}:`),
      ...listed,
      ...more,
    ].join("\n"),
    actual: tasks.map((task) => task.input),
    expected: typeof match === "function" ? "a task the predicate accepts" : match,
    operator: "expectEnqueued",
  });
};
