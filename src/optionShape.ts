import { ConfigError } from "./errors.ts";

/** The type an option's value must have (`undefined` always means "the default"). */
export type OptionType =
  "boolean" | "integer" | "number" | "string" | "Date" | "function" | "object" | "string[]" | "AbortSignal";

/**
 * One option's rule: a type with an optional range or list of allowed
 * values, a nested options object, or a predicate with what it expects
 * (for things such as a pg.Pool or a logger, recognised by their methods).
 */
export interface OptionRule {
  /** The value's type; a nested `shape` implies "object". */
  readonly type?: OptionType;
  /** For numbers: the smallest allowed value. */
  readonly min?: number;
  /** For numbers: the largest allowed value. */
  readonly max?: number;
  /** The only values allowed. */
  readonly oneOf?: ReadonlyArray<string | number | boolean>;
  /** `null` is allowed besides values of `type`. */
  readonly nullable?: boolean;
  /** The options of a nested object, checked the same way (unknown keys rejected). */
  readonly shape?: OptionShape;
  /** A check of its own, for values no type names; `expected` says what it wants. */
  readonly is?: (value: unknown) => boolean;
  /** What `is` expects, for the error message ("a pg.Pool"). */
  readonly expected?: string;
}

/** Each known option of an options object: its type, or its rule. */
export type OptionShape = Readonly<Record<string, OptionType | OptionRule>>;

const isObject = (value: unknown): value is object =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const hasType = (value: unknown, type: OptionType): boolean => {
  switch (type) {
    case "boolean":
      return typeof value === "boolean";
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "string":
      return typeof value === "string";
    case "Date":
      return value instanceof Date;
    case "function":
      return typeof value === "function";
    case "object":
      return isObject(value);
    case "string[]":
      return Array.isArray(value) && value.every((item) => typeof item === "string");
    case "AbortSignal":
      return value instanceof AbortSignal;
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
  if (typeof value === "object") {
    const made = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof made === "string" && made !== "Object" && made !== ""
      ? `a ${made}`
      : "an object with a prototype of its own";
  }
  return typeof value;
};

const article = (type: string): string => (/^[aeiouAE]/.test(type) ? "an" : "a");

/** What a rule expects, as the error message says it. */
const expectedOf = (entry: OptionType | OptionRule): string => {
  const rule: OptionRule = typeof entry === "string" ? { type: entry } : entry;
  if (rule.expected !== undefined) return rule.expected;
  if (rule.oneOf !== undefined)
    return `one of ${rule.oneOf.map((value) => JSON.stringify(value)).join(", ")}`;
  const type = rule.type ?? "object";
  const name = type === "string[]" ? "array of strings" : type;
  const range =
    rule.min !== undefined && rule.max !== undefined
      ? ` from ${rule.min} to ${rule.max}`
      : rule.min !== undefined
        ? ` >= ${rule.min}`
        : rule.max !== undefined
          ? ` <= ${rule.max}`
          : "";
  return `${article(name)} ${name}${range}${rule.nullable === true ? " or null" : ""}`;
};

const follows = (value: unknown, rule: OptionType | OptionRule): boolean => {
  if (typeof rule === "string") return hasType(value, rule);
  if (value === null) return rule.nullable === true;
  if (rule.is !== undefined) return rule.is(value);
  if (rule.oneOf !== undefined) return rule.oneOf.includes(value as string);
  if (!hasType(value, rule.type ?? "object")) return false;
  if (typeof value !== "number") return true;
  return (rule.min === undefined || value >= rule.min) && (rule.max === undefined || value <= rule.max);
};

const unknownOption = (what: string, key: string, path: string, shape: OptionShape): ConfigError => {
  const close = closestKey(key, Object.keys(shape));
  return new ConfigError(
    `${what}: unknown option ${shownKey(path + key)}` +
      (close === undefined ? "" : ` (did you mean ${JSON.stringify(path + close)}?)`) +
      `; known: ${Object.keys(shape).join(", ")}`,
  );
};

/**
 * Checks an options object against its shape before anything uses it: an
 * unknown key (a typo such as `dryrun`, which would otherwise be ignored and
 * let a bulk delete run for real), a value of the wrong type and one out of
 * its range are a `ConfigError` naming the key, the close match and what it
 * expects. Nested shapes are checked the same way, their keys named by path
 * (`retry.maxAttempts`). Allocates nothing when the options are good: it
 * runs on every enqueue.
 *
 * @example
 * checkOptionShape("bulk options", { dryrun: true }, { dryRun: "boolean" });
 * // ConfigError: bulk options: unknown option "dryrun" (did you mean "dryRun"?); known: dryRun
 */
export const checkOptionShape = <T>(what: string, options: T, shape: OptionShape, path = ""): T => {
  if (!isObject(options))
    throw new ConfigError(
      `${what}: ${path === "" ? "options" : path.slice(0, -1)} must be an object, got ${shownValue(options)}`,
    );
  // A plain object only: a class instance, a Map, a Date or an object made
  // with Object.create(proto) carries keys (accessors, entries, inherited
  // ones) that the code taking the options may read and this loop would not
  // see. Objects of another realm (a vm context) are plain too.
  const proto: unknown = Object.getPrototypeOf(options);
  if (Array.isArray(options) || (proto !== null && Object.getPrototypeOf(proto) !== null))
    throw new ConfigError(
      `${what}: ${path === "" ? "options" : path.slice(0, -1)} must be a plain object ({ … }), got ${shownValue(options)}`,
    );
  // Every own key, enumerable or not (a non-enumerable dryRun is read as
  // dryRun is), and no symbols.
  for (const key of Reflect.ownKeys(options)) {
    if (typeof key === "symbol")
      throw new ConfigError(`${what}: ${path}${String(key)} is a symbol key; options are named by strings`);
    const entry = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (entry === undefined) throw unknownOption(what, key, path, shape);
    const value: unknown = (options as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (!follows(value, entry))
      throw new ConfigError(`${what}: ${path}${key} must be ${expectedOf(entry)}, got ${shownValue(value)}`);
    if (typeof entry !== "string" && entry.shape !== undefined && value !== null)
      checkOptionShape(what, value, entry.shape, `${path}${key}.`);
  }
  return options;
};
