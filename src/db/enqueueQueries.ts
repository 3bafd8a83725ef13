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

type EnqueuedRow = { readonly id: string; readonly unique_key: string | null };

/** One array parameter per column, whatever the batch's size. */
export const tasksEnqueue = defineQuery<Traced & EnqueueColumns, EnqueuedRow>("tasksEnqueue", [
  "queue",
  "trace",
  ...enqueueColumns,
]).from(({ queue, columns, trace }: EnqueueInput) => ({ queue, trace, ...columns }));

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
export const tasksEnqueueUniform = defineQuery<UniformParams, EnqueuedRow>("tasksEnqueueUniform", [
  "queue",
  ...optionColumns,
  "trace",
  "inputs",
]).from(({ queue, inputs, columns, trace }: EnqueueInput & { readonly inputs: ReadonlyArray<string> }) => ({
  queue,
  inputs,
  trace,
  ...firstRowOf(optionColumns, columns),
}));

/** The live tasks of `queue` holding these unique keys. */
export const tasksFindUnique = defineQuery<
  { readonly queue: string; readonly keys: ReadonlyArray<string> },
  EnqueuedRow & { readonly job_id: string | null }
>("tasksFindUnique", ["queue", "keys"]);
