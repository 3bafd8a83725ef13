import type { TraceCarrier } from "../events/taskEvents.ts";
import {
  enqueueColumns,
  firstRowOf,
  optionColumns,
  type EnqueueColumns,
  type EnqueueRow,
} from "./enqueueColumns.ts";
import { defineQuery } from "./query.ts";

/** Tasks to insert into one queue, with the producer's trace context (null: none). */
export interface EnqueueInput {
  readonly queue: string;
  readonly columns: EnqueueColumns;
  readonly trace: TraceCarrier | null;
}

interface Traced {
  readonly queue: string;
  readonly trace: TraceCarrier | null;
}

/** An inserted task as the insert statements return it. */
interface EnqueuedRecord {
  readonly id: string;
  readonly unique_key: string | null;
}

/** A task an insert wrote, and the unique key it holds (null: none). */
export interface EnqueuedRow {
  readonly id: string;
  readonly uniqueKey: string | null;
}

/** The inserted rows, camelCase: one object literal per row (a batch of 20,000 on enqueueMany's path). */
const enqueuedRowsOf = (rows: ReadonlyArray<EnqueuedRecord>): ReadonlyArray<EnqueuedRow> =>
  rows.map((row) => ({ id: row.id, uniqueKey: row.unique_key }));

/** One array parameter per column, whatever the batch's size. */
export const tasksEnqueue = defineQuery<Traced & EnqueueColumns, EnqueuedRecord>("tasksEnqueue", [
  "queue",
  "trace",
  ...enqueueColumns,
])
  .from(({ queue, columns, trace }: EnqueueInput) => ({ queue, trace, ...columns }))
  .map(enqueuedRowsOf);

/** Single-row form; `columns` holds exactly one row. The id, or undefined when a unique key was taken. */
export const tasksEnqueueOne = defineQuery<Traced & EnqueueRow, { readonly id: string }>("tasksEnqueueOne", [
  "queue",
  ...enqueueColumns,
  "trace",
])
  .from(({ queue, columns, trace }: EnqueueInput) => ({
    queue,
    trace,
    ...firstRowOf(enqueueColumns, columns),
  }))
  .map((rows) => rows[0]?.id);

type UniformParams = Traced & { readonly inputs: ReadonlyArray<string> } & EnqueueRow<typeof optionColumns>;

/** Tasks that share every option: `columns` holds the options of its first row; `inputs` every input. */
export const tasksEnqueueUniform = defineQuery<UniformParams, EnqueuedRecord>("tasksEnqueueUniform", [
  "queue",
  ...optionColumns,
  "trace",
  "inputs",
])
  .from(({ queue, inputs, columns, trace }: EnqueueInput & { readonly inputs: ReadonlyArray<string> }) => ({
    queue,
    inputs,
    trace,
    ...firstRowOf(optionColumns, columns),
  }))
  .map(enqueuedRowsOf);

/** A live task holding a unique key, and the job run it is a step of (null: a plain task). */
export interface UniqueHolderRow extends EnqueuedRow {
  readonly jobId: string | null;
}

/** The live tasks of `queue` holding these unique keys. */
export const tasksFindUnique = defineQuery<
  { readonly queue: string; readonly keys: ReadonlyArray<string> },
  EnqueuedRecord & { readonly job_id: string | null }
>("tasksFindUnique", ["queue", "keys"]).map((rows) =>
  rows.map((row): UniqueHolderRow => ({ id: row.id, uniqueKey: row.unique_key, jobId: row.job_id })),
);

/** What an enqueue under a throttle or a debounce did, and the task it gives. */
export interface FlowEnqueuedRow {
  readonly id: string;
  readonly status: "created" | "existing" | "throttled" | "debounced";
}

type OneRow = Traced & EnqueueRow & { readonly uniqueForMs: number; readonly debounceMs: number };

/** One task's parameters, with its throttle window and debounce delay. */
const oneRowOf = ({ queue, columns, trace }: EnqueueInput): OneRow => ({
  queue,
  trace,
  ...firstRowOf(enqueueColumns, columns),
  uniqueForMs: columns.uniqueForMs[0] ?? 0,
  debounceMs: columns.debounceMs[0] ?? 0,
});

/** One task under a throttle: its row, or undefined when a concurrent enqueue of its key must be waited out (run again). */
export const tasksEnqueueThrottled = defineQuery<OneRow, FlowEnqueuedRow>("tasksEnqueueThrottled", [
  "queue",
  ...enqueueColumns,
  "trace",
  "uniqueForMs",
])
  .from(oneRowOf)
  .map((rows) => rows[0]);

/** One task under a debounce, after tasksDebounceLock: the pending task pushed back, or a new one. */
export const tasksEnqueueDebounced = defineQuery<OneRow, FlowEnqueuedRow>("tasksEnqueueDebounced", [
  "queue",
  ...enqueueColumns,
  "trace",
  "debounceMs",
])
  .from(oneRowOf)
  .map((rows) => rows[0]);

/** Takes the debounce locks of these keys of `queue`, held to commit, in key order. */
export const tasksDebounceLock = defineQuery<
  { readonly queue: string; readonly keys: ReadonlyArray<string> },
  { readonly locked: number }
>("tasksDebounceLock", ["queue", "keys"]).map(() => undefined);
