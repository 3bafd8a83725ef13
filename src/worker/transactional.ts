import type { TransactionClient } from "./guardedClient.ts";
import type { TaskContext } from "./execute.ts";

// Symbol.for, so that two copies of underway in one process agree.
const marker: unique symbol = Symbol.for("underway.transactional");

/** A context with `tx`: a pool client inside the transaction the task's verdict commits in. */
export type WithTransaction<C> = C & {
  /**
   * `query` (every form pg takes) and pg's escaping helpers, inside
   * `BEGIN`. Whatever the handler writes through it commits together with
   * the task's success (and, in a multi-step job, the next step), or not at
   * all. One statement per query; transaction control is refused; it is
   * closed once the handler returns. The pool client behind it is not
   * reachable (docs/transactions.md).
   */
  readonly tx: TransactionClient;
};

/** What a transactional handler is told: the task's context and its transaction. */
export type TransactionalContext = WithTransaction<TaskContext>;

/** A handler marked by {@link transactional}; workers give it a transaction. */
export type TransactionalHandler<I, O, C = TaskContext> = ((input: I, context: C) => Promise<O>) & {
  /** Marks the handler as transactional, for `start()` and the pool check. */
  readonly [marker]: true;
};

/**
 * Marks a handler (or a step) as transactional: the worker opens a
 * transaction on a pool connection before it runs, hands it over as
 * `context.tx`, and writes the task's verdict in that same transaction,
 * fenced by the attempt and its lease. The handler's database writes and
 * the task's completion commit together: they happen exactly once, even if
 * the worker dies in between. If the handler throws, times out or is
 * cancelled, or the lease was lost, its writes roll back.
 *
 * Each running transactional handler holds a pool connection: a worker
 * checks at `start()` that its pool can serve its concurrency.
 *
 * @example
 * underway.job(payments).start(
 *   transactional(async ({ orderId, amount }, { tx }) => {
 *     await tx.query("insert into ledger (order_id, amount) values ($1, $2)", [orderId, amount]);
 *     return { booked: true };
 *   }),
 * );
 * // A step of a multi-step job, the same way:
 * Steps.of(signup).step(transactional(async ({ userId }, { tx }) => { … return next({ userId }); }));
 */
export const transactional = <I, O, C extends TaskContext = TaskContext>(
  handler: (input: I, context: WithTransaction<C>) => Promise<O>,
): TransactionalHandler<I, O, C> => {
  // The worker only calls a marked handler with a context that has `tx`.
  const marked = (input: I, context: C) => handler(input, context as WithTransaction<C>);
  Object.defineProperty(marked, marker, { value: true });
  return marked as TransactionalHandler<I, O, C>;
};

/** @internal Whether `handler` was made by {@link transactional}. */
export const isTransactional = (handler: unknown): boolean =>
  typeof handler === "function" && (handler as { readonly [marker]?: unknown })[marker] === true;
