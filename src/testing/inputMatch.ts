/**
 * A partial, deep pattern of an input: objects give only the fields that
 * matter (at any depth), arrays and everything else are given whole. See
 * {@link matchesInput}.
 */
export type InputMatch<V> = V extends Date
  ? V
  : V extends ReadonlyArray<infer U>
    ? ReadonlyArray<InputMatch<U>>
    : V extends object
      ? { readonly [K in keyof V]?: InputMatch<V[K]> }
      : V;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);

/**
 * Whether `value` matches `pattern`: a plain object matches when each of
 * the pattern's own fields matches the value's field of that name (fields
 * the pattern leaves out are free); an array when it has the pattern's
 * length and each item matches; a Date when it is the same instant;
 * anything else when it is the same value (`Object.is`).
 */
export const matchesInput = (value: unknown, pattern: unknown): boolean => {
  if (pattern instanceof Date) return value instanceof Date && value.getTime() === pattern.getTime();
  if (Array.isArray(pattern))
    return (
      Array.isArray(value) &&
      value.length === pattern.length &&
      pattern.every((item, index) => matchesInput(value[index], item))
    );
  if (isPlainObject(pattern))
    return (
      isPlainObject(value) &&
      Object.keys(pattern).every((key) => Object.hasOwn(value, key) && matchesInput(value[key], pattern[key]))
    );
  return Object.is(value, pattern);
};

/** A value as a failure message shows it: JSON (Dates as ISO strings), cut at `max` characters. */
export const shown = (value: unknown, max = 200): string => {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
};
