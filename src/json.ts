/**
 * A value PostgreSQL's `jsonb` stores and gives back unchanged. Handlers
 * without an output codec return this, and values passed between steps are
 * this, so a `Date`, `bigint`, `Map` or function fails to compile instead of
 * coming back as something else in another process.
 */
export type JsonValue =
  string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** @internal Where and why a value cannot be stored as jsonb. */
export interface JsonProblem {
  readonly path: string;
  readonly message: string;
}

const badText = (text: string): string | undefined => {
  if (text.includes("\u0000")) return "contains a NUL character (\\u0000), which jsonb cannot store";
  // A lone surrogate: a high one not followed by a low one, or a low one alone.
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text))
    return "contains a lone UTF-16 surrogate, which jsonb cannot store";
  return undefined;
};

const join = (path: string, key: string | number): string =>
  path === "(root)" ? String(key) : `${path}.${key}`;

/**
 * @internal The first part of `value` that would not survive a trip through
 * JSON.stringify and jsonb (NaN and Infinity would silently become null; NUL
 * and lone surrogates are rejected by PostgreSQL, failing a whole batch).
 * Iterative, so a deep value cannot overflow the stack.
 */
export const jsonProblem = (value: unknown): JsonProblem | undefined => {
  const stack: Array<{ readonly value: unknown; readonly path: string }> = [{ value, path: "(root)" }];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const item = stack.pop();
    if (item === undefined) break;
    let current = item.value;
    const { path } = item;
    if (
      typeof current === "object" &&
      current !== null &&
      typeof (current as { toJSON?: unknown }).toJSON === "function"
    ) {
      try {
        current = (current as { toJSON: (key: string) => unknown }).toJSON("");
      } catch {
        return { path, message: "its toJSON() threw" };
      }
    }
    switch (typeof current) {
      case "string": {
        const bad = badText(current);
        if (bad !== undefined) return { path, message: bad };
        continue;
      }
      case "number":
        if (!Number.isFinite(current)) return { path, message: `${current} is not a JSON number` };
        continue;
      case "boolean":
        continue;
      case "bigint":
        return { path, message: "a bigint is not JSON (encode it as a string)" };
      case "undefined":
      case "function":
      case "symbol":
        // Dropped from objects by JSON.stringify, as JSON does; refused where
        // it is the whole value or an array element (it would become null).
        if (path === "(root)" || item.path.endsWith("]"))
          return { path, message: `${typeof current} is not JSON` };
        continue;
      case "object": {
        if (current === null) continue;
        if (seen.has(current)) return { path, message: "is a circular reference" };
        seen.add(current);
        if (current instanceof Map || current instanceof Set)
          return {
            path,
            message: `a ${current instanceof Map ? "Map" : "Set"} is not JSON (it would be stored as {})`,
          };
        if (Array.isArray(current)) {
          current.forEach((element, index) => stack.push({ value: element, path: `${path}[${index}]` }));
          continue;
        }
        for (const [key, element] of Object.entries(current)) {
          const bad = badText(key);
          if (bad !== undefined) return { path: join(path, key), message: `its key ${bad}` };
          stack.push({ value: element, path: join(path, key) });
        }
        continue;
      }
    }
  }
  return undefined;
};
