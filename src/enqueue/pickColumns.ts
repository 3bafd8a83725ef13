import type { EnqueueColumns } from "../db/enqueueColumns.ts";

/** The rows of `columns` at `indexes`, in that order, as columns of their own. */
export const pickColumns = (columns: EnqueueColumns, indexes: ReadonlyArray<number>): EnqueueColumns =>
  Object.fromEntries(
    Object.entries(columns).map(([name, values]: [string, unknown[]]) => [
      name,
      indexes.map((index) => values[index]),
    ]),
  ) as unknown as EnqueueColumns;
