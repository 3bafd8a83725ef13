import * as E from "fp-ts/lib/Either.js";
import type { JobDefinition } from "../definition.ts";
import { ConfigError, UnderwayError, ValidationError, orThrow } from "../errors.ts";
import type { TraceCarrier } from "../events/taskEvents.ts";
import { jsonProblem, type JsonValue } from "../json.ts";
import { checkOptionShape, type OptionShape } from "../optionShape.ts";
import { resolveTaskOptions } from "../options.ts";
import { firstRowOf, optionColumns, type EnqueueColumns } from "../db/enqueueColumns.ts";
import type { Queryable } from "../db/query.ts";
import type { ProducerDeps } from "../client/clientDeps.ts";
import { checkInput } from "../enqueue/checkInput.ts";
import { checkEnqueueOptions, enqueueShape, type EnqueueOptions } from "../enqueue/enqueueOptions.ts";
import { withPendingCap } from "../enqueue/pendingCap.ts";
import { keyColumnSet } from "../enqueue/keyColumnSet.ts";
import { pickColumns } from "../enqueue/pickColumns.ts";
import { taskColumns } from "../enqueue/taskColumns.ts";

/**
 * Options of `enqueueBatch`: the members' enqueue options (as `enqueueMany`
 * takes, the caller's `client` among them; no unique key, throttle or
 * debounce: every member is a new task of its own), the callback, and a
 * context handed to it.
 */
export type EnqueueBatchOptions<CIn = unknown, CV = unknown, CR = unknown, CO = unknown> = EnqueueOptions & {
  /**
   * The callback's task type: one task of it is enqueued, in the
   * transaction that ends the batch's last member, with the batch's
   * completion as its input (see `BatchCompletion`, the codec to give it).
   * Its options come from its definition, resolved now; its `delayMs` and
   * start deadline count from the batch's end. Without it the batch is
   * still counted (`ops.batch(id)`), and no task is enqueued at its end.
   */
  readonly onComplete?: JobDefinition<CIn, CV, CR, CO> | undefined;
  /** Any JSON value, handed to the callback as `context` (null when not given). At most 64 kB as JSON. */
  readonly context?: JsonValue | undefined;
};

/** What `enqueueBatch` wrote: the batch's id, and its members' task ids in input order. */
export interface EnqueuedBatch {
  /** The batch's id: `ops.batch(batchId)`, `underway batches show <id>`, the dashboard's `/batches/<id>`. */
  readonly batchId: string;
  /** The members' task ids, in input order. */
  readonly ids: ReadonlyArray<string>;
}

// Rows per INSERT statement, as enqueueMany: one array parameter per column.
const memberChunk = 5_000;
const contextMaxBytes = 65_536;

const batchShape: OptionShape = {
  ...enqueueShape,
  onComplete: { type: "object", expected: "a job definition (defineJob)" },
  context: {
    is: () => true,
    expected: "a JSON value",
  },
};

const refuse = (message: string): never => {
  throw new ConfigError(`invalid enqueueBatch option: ${message}`);
};

/** The rules only a batch has: no keyed members, no multi-step jobs, a callback that can take a completion. */
const checkKeys = (what: string, columns: EnqueueColumns): void => {
  const keyed = keyColumnSet(columns);
  if (keyed !== undefined)
    refuse(
      `${what} may not have ${keyed}: a batch member must be a new task of its own, and its callback ` +
        "is inserted by the statement that ends the last member, which a taken key must not fail",
    );
};

/** The stored form of a completion with every count 0: what the callback's input schema must accept. */
const sampleCompletion = (queue: string, context: JsonValue) => ({
  batchId: "1",
  queue,
  total: 0,
  succeeded: 0,
  failed: 0,
  cancelled: 0,
  failedIds: [] as string[],
  context,
});

/**
 * The callback's task columns as batch_callback (0021_batches.sql) reads
 * them: its options resolved now, from a completion with zero counts (what
 * its `optionsFor` sees), and the producer's trace context.
 */
const callbackTemplate = <CIn, CV, CR, CO>(
  callback: JobDefinition<CIn, CV, CR, CO>,
  queue: string,
  context: JsonValue,
  trace: TraceCarrier | null,
): string => {
  const sample = sampleCompletion(queue, context);
  const loaded = callback.input.load(sample);
  if (E.isLeft(loaded))
    return refuse(
      `onComplete's input schema (queue ${callback.queue}) does not accept a batch's completion ` +
        `({ batchId, queue, total, succeeded, failed, cancelled, failedIds, context }): ${loaded.left.message}; ` +
        "give it BatchCompletion, or batchCompletion(yourContextCodec)",
    );
  const columns = taskColumns(
    callback,
    [{ value: loaded.right, stored: sample, json: JSON.stringify(sample) }],
    undefined,
  );
  checkKeys("onComplete's task", columns);
  return JSON.stringify({ ...firstRowOf(optionColumns, columns), trace });
};

const checkBatchOptions = <CIn, CV, CR, CO>(
  queue: string,
  options: EnqueueBatchOptions<CIn, CV, CR, CO> | undefined,
): { readonly context: JsonValue; readonly enqueue: EnqueueOptions | undefined } => {
  if (options === undefined) return { context: null, enqueue: undefined };
  if (typeof options !== "object" || options === null)
    return refuse(`expected an options object, got ${typeof options}`);
  checkOptionShape("invalid enqueueBatch option", options, batchShape);
  const { onComplete, context, ...enqueue } = options;
  checkEnqueueOptions(enqueue);
  if (onComplete !== undefined && (typeof onComplete.queue !== "string" || onComplete.input === undefined))
    refuse("onComplete must be a job definition (defineJob)");
  if (onComplete?.kind === "steps")
    refuse(`onComplete (queue ${onComplete.queue}) is a multi-step job: give a one-handler job (defineJob)`);
  if (context !== undefined) {
    const problem = jsonProblem(context);
    if (problem !== undefined)
      throw new ValidationError(`invalid enqueueBatch context for queue ${queue}`, {
        _tag: "DecodeError",
        paths: [problem.path],
        message: problem.message,
      });
    if (Buffer.byteLength(JSON.stringify(context)) > contextMaxBytes)
      refuse(`context is over ${contextMaxBytes} bytes as JSON: store it elsewhere and pass its key`);
  }
  return { context: context ?? null, enqueue: Object.keys(enqueue).length === 0 ? undefined : enqueue };
};

/**
 * Enqueues `inputs` as one batch, all or nothing, in the caller's
 * transaction (`client`) or one of its own: the batch's row, then its
 * members in chunks. Every input is validated first (one bad input rejects
 * the whole batch, naming its index, and nothing is written). An empty
 * batch is complete at once: its callback is enqueued in the same
 * transaction. See docs/workflows.md#batches.
 */
export const enqueueBatch = async <In, V, R, O, CIn, CV, CR, CO>(
  deps: ProducerDeps,
  definition: JobDefinition<In, V, R, O>,
  inputs: ReadonlyArray<In>,
  options: EnqueueBatchOptions<CIn, CV, CR, CO> | undefined,
): Promise<EnqueuedBatch> => {
  const { queue } = definition;
  if (!Array.isArray(inputs))
    throw new ValidationError(`enqueueBatch on queue ${queue}`, {
      _tag: "DecodeError",
      paths: ["(root)"],
      message: `expected an array of inputs, got ${typeof inputs}`,
    });
  if (definition.kind === "steps")
    refuse(`queue ${queue} is a multi-step job: batch members are one-handler jobs (defineJob)`);
  const { context, enqueue } = checkBatchOptions(queue, options);
  const callback = options?.onComplete;
  // Array.from, not map: a hole of a sparse array is checked (as undefined), not skipped.
  const valid = Array.from(inputs, (input, index) => checkInput(definition, input, index));
  const columns = taskColumns(definition, valid, enqueue);
  checkKeys("a batch member", columns);
  // Checked before anything is written, with no trace yet: the template is built again with it.
  if (callback !== undefined) callbackTemplate(callback, queue, context, null);
  const ttlMs =
    columns.ttlMs.length > 0
      ? Math.max(...columns.ttlMs)
      : resolveTaskOptions(
          definition.options,
          enqueue === undefined ? undefined : withoutEnqueueOnly(enqueue),
        ).ttlMs;
  await deps.register(definition);
  if (callback !== undefined) await deps.register(callback);
  const insert = async (db: Queryable, trace: TraceCarrier | null) => {
    const batchId = await orThrow(
      deps.store.batchesCreate(db, {
        queue,
        total: valid.length,
        context: context === null ? null : JSON.stringify(context),
        callbackQueue: callback?.queue ?? null,
        callback: callback === undefined ? null : callbackTemplate(callback, queue, context, trace),
        ttlMs,
      })(),
    );
    if (batchId === undefined)
      throw new UnderwayError(`enqueueBatch on queue ${queue}: the batch was not created`);
    const ids: string[] = [];
    for (let start = 0; start < valid.length; start += memberChunk) {
      const indexes = valid.slice(start, start + memberChunk).map((_, offset) => start + offset);
      const chunk = indexes.length === valid.length ? columns : pickColumns(columns, indexes);
      const written = await orThrow(
        deps.store.batchesEnqueueMembers(db, { queue, trace, batchId, ...chunk })(),
      );
      if (written.length !== indexes.length)
        throw new UnderwayError(
          `enqueueBatch on queue ${queue} wrote ${written.length} of ${indexes.length} members; its transaction writes nothing`,
        );
      ids.push(...written);
    }
    if (valid.length === 0) await orThrow(deps.store.batchesSeal(db, { id: batchId })());
    return { result: { batchId, ids }, created: ids.length };
  };
  return deps.lifecycle.produce(
    queue,
    (trace) => withPendingCap(deps, definition, enqueue?.client, true, (db) => insert(db, trace)),
    (batch) => batch.ids,
  );
};

/** The task options of enqueue options (without the client and the times that only enqueue reads). */
const withoutEnqueueOnly = (enqueue: EnqueueOptions) => {
  const { client: _client, runAt: _runAt, startBy: _startBy, ...options } = enqueue;
  return options;
};
