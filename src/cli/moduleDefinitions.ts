import { existsSync, statSync } from "node:fs";
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describeThrown } from "../describeThrown.ts";
import { isJobDefinition } from "../ops/isJobDefinition.ts";
import type { CheckedDefinition } from "../ops/types.ts";
import { UsageError } from "./args.ts";

/** A definition a module exports, and the name it exports it under (`default` for the default export). */
export interface ExportedDefinition {
  readonly name: string;
  readonly definition: CheckedDefinition;
}

const typeScript = new Set([".ts", ".mts", ".cts", ".tsx"]);

/**
 * The definitions module `path` (relative to `cwd`) exports: its named
 * exports and its default export that are definitions made by `defineJob`
 * or `defineStepJob`, and those of a default export that is an array or an
 * object of definitions. Each definition once, under the first name found.
 * A missing file, a module that throws while it loads, or one that exports
 * no definition is a {@link UsageError} saying which.
 */
export const definitionsOfModule = async (
  path: string,
  cwd: string,
): Promise<ReadonlyArray<ExportedDefinition>> => {
  const file = resolve(cwd, path);
  if (!existsSync(file)) throw new UsageError(`no module at ${JSON.stringify(path)} (resolved to ${file})`);
  if (!statSync(file).isFile()) throw new UsageError(`${JSON.stringify(path)} is not a file`);
  let loaded: Record<string, unknown>;
  try {
    // import() resolves its promise with the module's namespace, and a
    // namespace that exports a function named `then` is a thenable: the
    // promise would call it and wait for it (for ever, if it is no promise
    // function). A module that re-exports the file's namespace as `ns` is
    // never a thenable, so the namespace comes back as it is.
    const wrapper = `export * as ns from ${JSON.stringify(pathToFileURL(file).href)};`;
    const outer = (await import(`data:text/javascript,${encodeURIComponent(wrapper)}`)) as {
      ns: Record<string, unknown>;
    };
    loaded = outer.ns;
  } catch (error) {
    const thrown = describeThrown(error);
    const code = (error as { code?: unknown } | null)?.code;
    // Plain node before 22.18 cannot load TypeScript: say how to.
    const hint =
      typeScript.has(extname(file)) && code === "ERR_UNKNOWN_FILE_EXTENSION"
        ? ` (this node cannot load TypeScript: check the compiled .js module, or run with NODE_OPTIONS="--import tsx")`
        : "";
    throw new UsageError(`cannot import ${JSON.stringify(path)}: ${thrown.name}: ${thrown.message}${hint}`);
  }
  const found: ExportedDefinition[] = [];
  const add = (name: string, value: unknown): void => {
    if (isJobDefinition(value) && !found.some((known) => known.definition === value))
      found.push({ name, definition: value });
  };
  // A value whose properties throw when read (a getter, a Proxy) is no definition.
  const quietly = (read: () => void): void => {
    try {
      read();
    } catch {
      // Not a definition: skipped like any other export.
    }
  };
  for (const [name, value] of Object.entries(loaded)) {
    quietly(() => add(name, value));
    // `export default [a, b]` or `export default { a, b }`.
    if (name === "default" && typeof value === "object" && value !== null)
      quietly(() => {
        if (!isJobDefinition(value))
          for (const [inner, item] of Object.entries(value)) quietly(() => add(`default.${inner}`, item));
      });
  }
  if (found.length === 0)
    throw new UsageError(
      `${JSON.stringify(path)} exports no job definition (made by defineJob or defineStepJob, as a named or default export)`,
    );
  return found;
};
