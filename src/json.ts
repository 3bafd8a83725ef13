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
  if (!text.isWellFormed()) return "contains a lone UTF-16 surrogate, which jsonb cannot store";
  return undefined;
};

const join = (path: string, key: string | number): string =>
  path === "(root)" ? String(key) : `${path}.${key}`;

/** Nesting deeper than this is refused: JSON.stringify and PostgreSQL's parser recurse. */
export const maxJsonDepth = 1_000;

interface Visit {
  readonly value: unknown;
  readonly parent: Visit | undefined;
  readonly key: string | number | undefined;
  readonly depth: number;
}

const pathOf = (visit: Visit): string => {
  const keys: Array<string | number> = [];
  for (let at: Visit | undefined = visit; at?.key !== undefined; at = at.parent) keys.push(at.key);
  return keys
    .reverse()
    .reduce<string>((path, key) => (typeof key === "number" ? `${path}[${key}]` : join(path, key)), "(root)");
};

/**
 * @internal The first part of `value` that would not survive a trip through
 * JSON.stringify and jsonb unchanged: NaN and Infinity (silently null), NUL
 * and lone surrogates (rejected by PostgreSQL, failing a whole batch), a
 * bigint, a function or symbol, a Map or Set (stored as {}), a cycle, or
 * nesting deeper than {@link maxJsonDepth}. An `undefined` property is fine
 * (an optional field, left out as JSON does). Iterative, so a deep value
 * cannot overflow the stack; the same object may appear twice (a shared
 * address), only a cycle through its own ancestors is refused.
 */
export const jsonProblem = (value: unknown): JsonProblem | undefined => {
  const stack: Array<Visit | { readonly leave: object }> = [
    { value, parent: undefined, key: undefined, depth: 0 },
  ];
  const ancestors = new Set<object>();
  while (stack.length > 0) {
    const item = stack.pop();
    if (item === undefined) break;
    if ("leave" in item) {
      ancestors.delete(item.leave);
      continue;
    }
    let current = item.value;
    if (
      typeof current === "object" &&
      current !== null &&
      typeof (current as { toJSON?: unknown }).toJSON === "function"
    ) {
      try {
        current = (current as { toJSON: (key: string) => unknown }).toJSON("");
      } catch {
        return { path: pathOf(item), message: "its toJSON() threw" };
      }
    }
    switch (typeof current) {
      case "string": {
        const bad = badText(current);
        if (bad !== undefined) return { path: pathOf(item), message: bad };
        continue;
      }
      case "number":
        if (!Number.isFinite(current))
          return { path: pathOf(item), message: `${current} is not a JSON number` };
        continue;
      case "boolean":
        continue;
      case "bigint":
        return { path: pathOf(item), message: "a bigint is not JSON (encode it as a string)" };
      case "undefined":
        // Left out of objects, as JSON does (an optional field); anywhere
        // else it would become null or nothing.
        if (item.parent === undefined || typeof item.key === "number")
          return { path: pathOf(item), message: "undefined is not JSON" };
        continue;
      case "function":
      case "symbol":
        return { path: pathOf(item), message: `a ${typeof current} is not JSON` };
      case "object": {
        if (current === null) continue;
        if (ancestors.has(current)) return { path: pathOf(item), message: "is a circular reference" };
        if (item.depth >= maxJsonDepth)
          return { path: pathOf(item), message: `is nested deeper than ${maxJsonDepth} levels` };
        if (current instanceof Map || current instanceof Set)
          return {
            path: pathOf(item),
            message: `a ${current instanceof Map ? "Map" : "Set"} is not JSON (it would be stored as {})`,
          };
        ancestors.add(current);
        stack.push({ leave: current });
        const depth = item.depth + 1;
        if (Array.isArray(current)) {
          for (let index = current.length - 1; index >= 0; index -= 1)
            stack.push({ value: current[index], parent: item, key: index, depth });
          continue;
        }
        const entries = Object.entries(current);
        for (let index = entries.length - 1; index >= 0; index -= 1) {
          const [key, element] = entries[index] as [string, unknown];
          const bad = badText(key);
          if (bad !== undefined)
            return { path: pathOf({ value: element, parent: item, key, depth }), message: `its key ${bad}` };
          stack.push({ value: element, parent: item, key, depth });
        }
        continue;
      }
    }
  }
  return undefined;
};
