import { parseArgs } from "node:util";

/** A wrong command line: reported with a pointer to `--help`, exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** One option of a command, as `node:util` parseArgs takes it, plus its help text. */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly multiple?: boolean;
  readonly short?: string;
  /** Placeholder shown in help (`<queue>`); string options only. */
  readonly value?: string;
  readonly description: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** What parseArgs made of a command line. */
export interface Parsed {
  readonly values: Readonly<Record<string, string | boolean | ReadonlyArray<string> | undefined>>;
  readonly positionals: ReadonlyArray<string>;
}

/** Options every command takes. */
export const globalOptions: OptionSpecs = {
  url: {
    type: "string",
    value: "<postgres://…>",
    description: "PostgreSQL connection string (default: $DATABASE_URL)",
  },
  schema: { type: "string", value: "<name>", description: "schema of underway's tables (default: underway)" },
  json: { type: "boolean", description: "print JSON for scripts instead of tables" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

// Global options that take a value: their value is never a command word.
const valued = new Set(["--url", "--schema"]);

/**
 * Splits `argv` into the command words (`["tasks", "list"]`: a command, and
 * a subcommand right after a group) and the tokens left for parseArgs.
 * Global options may come before the command (`underway --url … queues`).
 */
export const splitCommand = (
  argv: ReadonlyArray<string>,
  isGroup: (word: string) => boolean,
): { readonly words: ReadonlyArray<string>; readonly rest: ReadonlyArray<string> } => {
  const words: string[] = [];
  const rest: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const token = argv[index] ?? "";
    if (token === "--") {
      rest.push(...argv.slice(index));
      break;
    }
    if (token.startsWith("-")) {
      rest.push(token);
      if (valued.has(token) && index + 1 < argv.length) rest.push(argv[++index] ?? "");
    } else if (words.length === 0 || (words.length === 1 && isGroup(words[0] ?? ""))) {
      words.push(token);
    } else {
      rest.push(token);
    }
  }
  return { words, rest };
};

/** parseArgs, strict, with its errors turned into {@link UsageError}s. */
export const parse = (tokens: ReadonlyArray<string>, options: OptionSpecs): Parsed => {
  const config = Object.fromEntries(
    Object.entries(options).map(([name, spec]) => [
      name,
      {
        type: spec.type,
        ...(spec.multiple === true ? { multiple: true } : {}),
        ...(spec.short === undefined ? {} : { short: spec.short }),
      },
    ]),
  );
  try {
    const { values, positionals } = parseArgs({
      args: [...tokens],
      options: config,
      strict: true,
      allowPositionals: true,
    });
    return { values: values as Parsed["values"], positionals };
  } catch (error) {
    // parseArgs' messages name the option; the help pointer is added by the caller.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
};

/** A string option's value, or undefined. */
export const stringOf = (parsed: Parsed, name: string): string | undefined => {
  const value = parsed.values[name];
  return typeof value === "string" ? value : undefined;
};

/** A repeatable option's values, each also split on commas (`--state failed,cancelled`). */
export const listOf = (parsed: Parsed, name: string): ReadonlyArray<string> => {
  const value = parsed.values[name];
  const items = typeof value === "string" ? [value] : Array.isArray(value) ? (value as string[]) : [];
  return items
    .flatMap((item) => item.split(","))
    .map((item) => item.trim())
    .filter((item) => item !== "");
};

/** A boolean option: true when given. */
export const flagOf = (parsed: Parsed, name: string): boolean => parsed.values[name] === true;

/** An integer option within bounds, or undefined when absent. */
export const integerOf = (
  parsed: Parsed,
  name: string,
  bounds: { readonly min: number; readonly max: number },
): number | undefined => {
  const text = stringOf(parsed, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < bounds.min || value > bounds.max)
    throw new UsageError(
      `--${name} must be an integer from ${bounds.min} to ${bounds.max}, got ${JSON.stringify(text)}`,
    );
  return value;
};
