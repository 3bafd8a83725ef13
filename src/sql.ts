import { existsSync, readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { queryNames, type QueryName } from "./db/queryNames.ts";
import { quoteSchema } from "./identifier.ts";
import { queryText, type QueryText } from "./queryText.ts";

/**
 * The `db/` folder, found from this file both in `src/` (tsx, tests) and in
 * `dist/src/` (the published package, under `node_modules/underway/`). URL
 * paths use `/` on every platform, and only the last two segments decide, so
 * a checkout under some other `dist/src/` folder does not confuse it.
 */
const dbFolder = (): string => {
  const up = new URL(".", import.meta.url).pathname.endsWith("/dist/src/") ? "../../db/" : "../db/";
  return fileURLToPath(new URL(up, import.meta.url));
};

/** A migration file: its number, name and raw text (checksummed as is). */
export interface MigrationFile {
  readonly version: number;
  readonly name: string;
  readonly text: string;
}

/** Reads `db/migrations/NNNN_name.sql`, in order. */
export const readMigrations = (): ReadonlyArray<MigrationFile> =>
  readdirSync(`${dbFolder()}migrations`)
    .filter((file) => /^\d{4}_.+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ""),
      text: readFileSync(`${dbFolder()}migrations/${file}`, "utf8"),
    }));

/** Replaces `{{schema}}` with the validated, quoted schema identifier. */
export const withSchema = (text: string, schema: string): string =>
  text.replaceAll("{{schema}}", quoteSchema(schema));

/** The text of every file of `db/queries/`, bound to one schema. */
export type Queries = Readonly<Record<QueryName, string>>;

/** A file of `db/` by its path under it (`queries/x.sql`, `fragments/y.sql`), or undefined when absent. */
const readDbFile = (path: string): string | undefined => {
  const file = `${dbFolder()}${path}`;
  return existsSync(file) ? readFileSync(file, "utf8") : undefined;
};

/** One query of `db/queries/`, its fragments spliced and its named parameters numbered (./queryText.ts). */
export const readQueryText = (name: QueryName): QueryText => queryText(name, readDbFile);

/** The names of the shared fragments of `db/fragments/`. */
export const fragmentNames = (): ReadonlyArray<string> =>
  readdirSync(`${dbFolder()}fragments`)
    .filter((file) => file.endsWith(".sql"))
    .map((file) => file.replace(/\.sql$/, ""))
    .sort();

/**
 * Reads every query the catalogue names, fragments spliced and parameters
 * numbered; a missing file or fragment, or a file mixing `$n` with named
 * parameters, fails here, at start-up, not on first use.
 */
export const readQueries = (schema: string): Queries =>
  Object.fromEntries(
    queryNames.map((name) => [name, withSchema(readQueryText(name).text, schema)]),
  ) as Record<QueryName, string>;
