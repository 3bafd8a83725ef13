import type { EnqueueColumns } from "../db/enqueueColumns.ts";

/** Rows of task columns, one after the other, as the columns of them all (in order). */
export const concatColumns = (rows: ReadonlyArray<EnqueueColumns>): EnqueueColumns => {
  const [first, ...rest] = rows;
  if (first === undefined) throw new RangeError("no rows");
  const merged = Object.fromEntries(
    Object.entries(first).map(([key, values]) => [key, [...(values as unknown[])]]),
  ) as Record<string, unknown[]>;
  for (const row of rest) {
    for (const [key, values] of Object.entries(row)) merged[key]?.push(...(values as unknown[]));
  }
  return merged as unknown as EnqueueColumns;
};
