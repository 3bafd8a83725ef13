import { isFanOut } from "../db/fanOutQueries.ts";
import * as E from "fp-ts/lib/Either.js";
import type * as T from "fp-ts/lib/Task.js";
import type pg from "pg";
import { AbortError, UnderwayError, messageOf, type TaskFailure } from "../errors.ts";
import type { Outcome } from "../outcomes.ts";
import type { TransactionalContext } from "./transactional.ts";
import {
  failureOfAbort,
  isCancelled,
  outcomeBaseOf,
  runAttempt,
  type ExecuteDeps,
  type RunningTask,
  type TaskContext,
} from "./execute.ts";
import { guardedClient, type TxGuard } from "./guardedClient.ts";
import { recordAttempt } from "./record.ts";

// A wait for a connection longer than this is reported: the pool is too
// small for the transactional handlers (and everything else) sharing it.
const slowConnectMs = 1_000;
// How long a rollback may take before the connection is closed instead.
const rollbackWaitMs = 5_000;

const retryable = (message: string, thrown?: unknown): TaskFailure => ({
  _tag: "Retryable",
  name: "DatabaseError",
  message: thrown === undefined ? message : `${message}: ${messageOf(thrown)}`,
  stack: null,
});

/** Resolves with `promise`'s value, or `undefined` after `ms`; never rejects. */
const within = async <A>(promise: Promise<A>, ms: number): Promise<A | undefined> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((done) => {
    timer = setTimeout(() => done(undefined), ms);
  });
  try {
    return await Promise.race([promise.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
};

/**
 * A pool client inside BEGIN, the pid of the server backend running that
 * transaction, and the transaction's id; a slow checkout is logged, since
 * it means the pool is too small. The pid is asked inside the transaction
 * because the client's own `processID` is a pooler's made-up key behind
 * PgBouncer, while the transaction holds one server backend until it ends.
 * The id is how the completion knows the transaction it writes in is still
 * this one (see {@link sameTransaction}).
 */
const begin = async <I, O>(
  deps: ExecuteDeps<I, O>,
  taskId: string,
): Promise<{ readonly client: pg.PoolClient; readonly pid: number; readonly xid: string }> => {
  const asked = Date.now();
  const client = await deps.pool.connect();
  const waitedMs = Date.now() - asked;
  if (waitedMs > slowConnectMs)
    deps.log.warn(
      "a transactional handler waited for a pool connection; the pool is too small for what shares it",
      { taskId, waitedMs, poolMax: deps.pool.options.max ?? 10 },
    );
  try {
    // Explicit: a handler's session-level SET (default_transaction_isolation)
    // outlives its transaction on the pooled connection, and would change the
    // isolation of every later attempt on it.
    await client.query("begin isolation level read committed read write");
    const { rows } = await client.query<{ readonly pid: number; readonly xid: string }>(
      "select pg_backend_pid() as pid, txid_current()::text as xid",
    );
    const pid = rows[0]?.pid;
    const xid = rows[0]?.xid;
    if (typeof pid !== "number" || xid === undefined)
      throw new UnderwayError("pg_backend_pid() returned no pid");
    return { client, pid, xid };
  } catch (error) {
    client.release(true);
    throw error;
  }
};

/**
 * Whether `client` is still inside the transaction `xid` that BEGIN opened.
 * ctx.tx refuses COMMIT and friends, but if one got through anyway the
 * session is outside any transaction block, and the completion would then
 * commit on its own, as a success of writes that were committed (or rolled
 * back) apart from it. Outside a block, txid_current() is a fresh id.
 */
const sameTransaction = async (client: pg.PoolClient, xid: string | undefined): Promise<boolean> => {
  if (xid === undefined) return false;
  try {
    const { rows } = await client.query<{ readonly xid: string }>("select txid_current()::text as xid");
    return rows[0]?.xid === xid;
  } catch {
    // An aborted transaction refuses the query: the completion would fail the same way.
    return true;
  }
};

/**
 * Ends the handler's transaction without committing. A handler that
 * settled gets a ROLLBACK and its connection goes back to the pool. An
 * aborted one (timeout, cancel, lost lease, shutdown) may still be running
 * a query on it, and may use it again later: its query is cancelled and the
 * connection closed, so the server rolls back and nothing it sends after
 * can commit or reach another task's session.
 */
const discard = async <I, O>(
  deps: ExecuteDeps<I, O>,
  tx: pg.PoolClient,
  aborted: boolean,
  pid: number | undefined,
) => {
  if (aborted) {
    if (pid !== undefined) await deps.store.backendsCancel(deps.pool, { pid })();
    tx.release(true);
    return;
  }
  const rolledBack = await within(
    tx.query("rollback").then(() => true),
    rollbackWaitMs,
  );
  tx.release(rolledBack === true ? undefined : true);
};

/**
 * One attempt of a transactional handler, from BEGIN to COMMIT: the
 * handler runs with `tx` under the task's timeout and signal, then its
 * success (and a job's next step) is written in the same transaction,
 * fenced by the attempt and the lease, and committed; outcome streams hear
 * of it on commit. A fenced-off write rolls everything back (logged). A
 * failure rolls back first, then is recorded outside the transaction as for
 * any task. Holds a worker slot and a connection throughout.
 */
export const runTransactionalAttempt =
  <I, O>(deps: ExecuteDeps<I, O>, task: RunningTask): T.Task<Outcome<O> | undefined> =>
  async () => {
    const { row } = task;
    const { signal } = task.abort;
    let tx: pg.PoolClient | undefined;
    let backendPid: number | undefined;
    let transactionId: string | undefined;
    // The handler's phase: only then may an abort cancel the backend's query.
    // Past it the connection is underway's (completion, commit) and then the
    // pool's: a cancel landing there would hit someone else's statement.
    let handlerRunning = false;
    let cancelling: Promise<unknown> | undefined;
    let guard: TxGuard | undefined;
    // While underway holds the client for the handler, a connection lost
    // under it must not become an unhandled 'error' event (a crash): the
    // handler's query rejects anyway.
    const onClientError = (error: Error) =>
      deps.log.warn("a transactional handler's connection failed", { taskId: row.id, error: error.message });
    // Opening the transaction is part of the handler, so it counts against
    // the task's timeout and ends with its signal.
    const handler = async (input: I, context: TaskContext): Promise<unknown> => {
      const { client, pid, xid } = await begin(deps, row.id);
      if (signal.aborted) {
        // The attempt ended while this waited for a connection.
        await discard(deps, client, false, pid);
        throw signal.reason;
      }
      client.on("error", onClientError);
      tx = client;
      backendPid = pid;
      transactionId = xid;
      handlerRunning = true;
      // A cancelled handler is waited for until it ends: end the query it
      // waits on now, so it does (the transaction is then aborted, and
      // nothing it sends after can commit).
      signal.addEventListener(
        "abort",
        () => {
          if (handlerRunning && tx === client) cancelling = deps.store.backendsCancel(deps.pool, { pid })();
        },
        { once: true },
      );
      guard = guardedClient(client);
      const withTx: TransactionalContext = { ...context, tx: guard.client };
      return deps.handler(input, withTx);
    };
    const verdict = await runAttempt({ ...deps, handler })(task)();
    // The handler's part is over (or given up on): its `tx` refuses further
    // use, and a cancel sent during it has landed before the connection is
    // used or given back.
    handlerRunning = false;
    guard?.close();
    await cancelling;
    const release = async (aborted: boolean) => {
      if (tx === undefined) return;
      const client = tx;
      tx = undefined;
      await discard(deps, client, aborted, backendPid);
      client.off("error", onClientError);
    };
    const recordFailure = async (failure: TaskFailure) => recordAttempt(deps, task)(E.left(failure))();

    if (E.isLeft(verdict)) {
      await release(signal.aborted);
      return recordFailure(verdict.left);
    }
    // Cancelled while it ran (a cancelled handler is waited for): its writes
    // are discarded, and the cancel is written outside, as for any task.
    const cancel = (): TaskFailure => failureOfAbort(new AbortError("cancelled"));
    if (isCancelled(task)) {
      await release(true);
      return recordFailure(cancel());
    }
    const client = tx;
    if (client === undefined) return recordFailure(retryable("the handler returned without a transaction"));
    if (!(await sameTransaction(client, transactionId))) {
      await release(false);
      return recordFailure(
        retryable(
          "the handler's transaction ended before underway's commit (ctx.tx must not commit or roll back); nothing of this attempt is committed by underway",
        ),
      );
    }
    const { output, json, next } = verdict.right;
    if (next !== undefined && isFanOut(next)) {
      // Refused by the step runner before it gets here; a fan-out is written by a statement of its own.
      await release(true);
      return recordFailure({ ...retryable("a transactional step cannot fan out"), _tag: "Fatal" });
    }
    const written = await deps.store.tasksCompleteLeased(client, {
      id: row.id,
      attempt: row.attempt,
      output: json,
      next,
    })();
    if (E.isLeft(written)) {
      // Often the handler's own doing: it swallowed an error that aborted the transaction.
      await release(false);
      return recordFailure(
        retryable("could not record the result in the handler's transaction", written.left.cause),
      );
    }
    if (!written.right) {
      await release(false);
      // A cancel that landed while the result was being written (its NOTIFY
      // may not have arrived yet): write it now rather than leave the task
      // holding its key until the lease lapses.
      const requested = await deps.store.tasksCancelRequested(deps.pool, {
        id: row.id,
        attempt: row.attempt,
      })();
      if (isCancelled(task) || (E.isRight(requested) && requested.right)) return recordFailure(cancel());
      deps.log.warn(
        "transactional task rolled back: its lease expired or it was reclaimed or cancelled (fenced); its writes were discarded",
        { taskId: row.id, attempt: row.attempt },
      );
      return undefined;
    }
    try {
      await client.query("commit");
    } catch (error) {
      tx = undefined;
      client.off("error", onClientError);
      client.release(true);
      // If the commit did land after all, the task is no longer in progress
      // and this fenced write changes nothing.
      return recordFailure(retryable("commit of the handler's transaction failed", error));
    }
    tx = undefined;
    client.off("error", onClientError);
    client.release();
    return { ...outcomeBaseOf(deps.queue, row), _tag: "succeeded", output };
  };
