import type { CheckedDefinition } from "./types.ts";

/**
 * Whether `value` is a definition made by `defineJob` or `defineStepJob`,
 * of this copy of underway or another (a module checked by the CLI may
 * import its own): read by its shape, not by `instanceof`.
 */
export const isJobDefinition = (value: unknown): value is CheckedDefinition => {
  try {
    return hasDefinitionShape(value);
  } catch {
    // A value whose properties throw when read (a getter, a Proxy) is no definition.
    return false;
  }
};

const hasDefinitionShape = (value: unknown): boolean => {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Partial<Record<keyof CheckedDefinition, unknown>>;
  const input = candidate.input as { load?: unknown } | null | undefined;
  return (
    (candidate.kind === "job" || candidate.kind === "steps") &&
    typeof candidate.queue === "string" &&
    typeof input === "object" &&
    input !== null &&
    typeof input.load === "function" &&
    typeof candidate.schemas === "object" &&
    candidate.schemas !== null
  );
};
