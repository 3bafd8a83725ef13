import { ConfigError } from "./errors.ts";

/** The type an option's value must have (`undefined` always means "the default"). */
export type OptionType = "boolean" | "integer" | "number" | "string" | "Date";

/** Each known option of an options object and the type of its value. */
export type OptionShape = Readonly<Record<string, OptionType>>;

const hasType = (value: unknown, type: OptionType): boolean => {
  switch (type) {
    case "boolean":
      return typeof value === "boolean";
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "string":
      return typeof value === "string";
    case "Date":
      return value instanceof Date;
  }
};

// Edit distance over the spellings people slip into: case, `_` and `-`
// ignored first (`dry_run`, `DryRun`), then up to two typos (`dryRn`), or a
// shortened name (`next` for `nextRuns`).
const normalised = (key: string): string => key.toLowerCase().replace(/[_-]/g, "");

const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = current;
  }
  return previous[b.length] ?? 0;
};

/** The known key `key` is most likely a misspelling of, if any is close. */
export const closestKey = (key: string, known: Iterable<string>): string | undefined => {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const [a, b] = [normalised(key), normalised(candidate)];
    const d = a.length >= 3 && (b.startsWith(a) || a.startsWith(b)) ? 1 : distance(a, b);
    if (d <= 2 && (best === undefined || d < best.distance)) best = { key: candidate, distance: d };
  }
  return best?.key;
};

/** A key as an error message shows it: quoted, bounded. */
const shownKey = (key: string): string => JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);

const shownValue = (value: unknown): string => {
  if (value === null) return "null";
  if (value instanceof Date) return "a Date";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === "number") return `number ${String(value)}`;
  return typeof value;
};

/**
 * Checks an options object against its shape before anything uses it: an
 * unknown key (a typo such as `dryrun`, which would otherwise be ignored and
 * let a bulk delete run for real) and a value of the wrong type are a
 * `ConfigError` naming the key, the close match and the expected type.
 * Ranges stay with the caller.
 */
export const checkOptionShape = <T>(what: string, options: T, shape: OptionShape): T => {
  if (typeof options !== "object" || options === null || Array.isArray(options))
    throw new ConfigError(`${what} must be an object, got ${shownValue(options)}`);
  for (const [key, value] of Object.entries(options)) {
    const type = shape[key];
    if (type === undefined || !Object.hasOwn(shape, key)) {
      const close = closestKey(key, Object.keys(shape));
      throw new ConfigError(
        `${what}: unknown option ${shownKey(key)}` +
          (close === undefined ? "" : ` (did you mean ${JSON.stringify(close)}?)`) +
          `; known: ${Object.keys(shape).join(", ")}`,
      );
    }
    if (value !== undefined && !hasType(value, type))
      throw new ConfigError(
        `${what}: ${key} must be ${type === "integer" ? "an" : "a"} ${type}, got ${shownValue(value)}`,
      );
  }
  return options;
};
