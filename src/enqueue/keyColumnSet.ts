import type { EnqueueColumns } from "../db/enqueueColumns.ts";

/**
 * The first key option set on any row of `columns` (`uniqueKey`,
 * `uniqueForMs` or `debounceMs`), or undefined when none is. Tasks that
 * must each be a new task of their own (fan-out children, batch members and
 * their callback) refuse these: a key taken by another task would fold them
 * into it, or fail the statement that writes them.
 */
export const keyColumnSet = (
  columns: Pick<EnqueueColumns, "uniqueKey" | "uniqueForMs" | "debounceMs">,
): "uniqueKey" | "uniqueForMs" | "debounceMs" | undefined => {
  for (const [name, values] of [
    ["uniqueKey", columns.uniqueKey],
    ["uniqueForMs", columns.uniqueForMs],
    ["debounceMs", columns.debounceMs],
  ] as const)
    if (values.some((value) => value !== null)) return name;
  return undefined;
};
