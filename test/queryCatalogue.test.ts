// The query catalogue (src/db/) held to the SQL files of db/queries/: each
// file belongs to exactly one entry, each entry binds as many parameters as
// its SQL numbers, and each entry is used by the library. Files only, no
// database: the queries themselves run against PostgreSQL in the other
// tests, through the API.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { QueryEntry } from "../src/db/query.ts";
import { queryNames } from "../src/db/queryNames.ts";

const dbFolder = new URL("../src/db/", import.meta.url);
const queriesFolder = new URL("../db/queries/", import.meta.url);
const srcFolder = new URL("../src/", import.meta.url);

interface Found {
  /** The file of src/db/ exporting it. */
  readonly module: string;
  /** The name it is exported under. */
  readonly name: string;
  readonly entry: QueryEntry;
}

const isEntry = (value: unknown): value is QueryEntry =>
  typeof value === "function" && "file" in value && "fragments" in value && "params" in value;

/** Every query exported by a file of src/db/: a new area file is covered without being listed here. */
const catalogue = async (): Promise<ReadonlyArray<Found>> => {
  const found: Found[] = [];
  for (const module of readdirSync(dbFolder).filter((file) => file.endsWith(".ts"))) {
    const exports = (await import(new URL(module, dbFolder).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(exports))
      if (isEntry(value)) found.push({ module, name, entry: value });
  }
  return found;
};

const sqlFiles = (): string[] =>
  readdirSync(queriesFolder)
    .filter((file) => file.endsWith(".sql"))
    .map((file) => file.replace(/\.sql$/, ""))
    .sort();

/**
 * The highest `$n` of a query's SQL, comments left out: a filtered query's
 * comments name where the filter's own parameters start, which the filter
 * numbers, not the entry.
 */
const highestParam = (name: string): number => {
  const code = readFileSync(new URL(`${name}.sql`, queriesFolder), "utf8").replace(/--.*$/gm, "");
  return Math.max(0, ...[...code.matchAll(/\$(\d+)/g)].map((match) => Number(match[1])));
};

/** Every `.ts` file under src/, as a path relative to it. */
const sourceFiles = (folder = ""): string[] =>
  readdirSync(new URL(folder, srcFolder), { withFileTypes: true }).flatMap((item) =>
    item.isDirectory()
      ? sourceFiles(`${folder}${item.name}/`)
      : item.name.endsWith(".ts")
        ? [`${folder}${item.name}`]
        : [],
  );

/** The value names each src/ file outside src/db/ imports from each file of src/db/. */
const importsFromCatalogue = (): Set<string> => {
  const used = new Set<string>();
  for (const file of sourceFiles().filter((path) => !path.startsWith("db/"))) {
    const text = readFileSync(new URL(file, srcFolder), "utf8");
    for (const [, typeOnly, names, from] of text.matchAll(
      /import\s+(type\s+)?\{([^}]*)\}\s*from\s*"([^"]+)"/g,
    )) {
      const module = /\/db\/(\w+\.ts)$/.exec(from ?? "")?.[1];
      if (module === undefined || typeOnly !== undefined) continue;
      for (const part of (names ?? "").split(",")) {
        const name = part.trim().split(/\s+as\s+/)[0] ?? "";
        if (name !== "" && !name.startsWith("type ")) used.add(`${module}:${name}`);
      }
    }
  }
  return used;
};

describe("query catalogue", () => {
  it("names exactly the files of db/queries/", () => {
    assert.deepEqual([...queryNames].sort(), sqlFiles());
  });

  it("gives every SQL file to exactly one entry", async () => {
    const owners = new Map<string, string[]>(sqlFiles().map((file) => [file, []]));
    for (const { name, entry } of await catalogue())
      for (const file of [entry.file, ...entry.fragments]) owners.get(file)?.push(name);
    const wrong = [...owners].filter(([, names]) => names.length !== 1);
    assert.deepEqual(wrong, [], "files with no entry, or with more than one");
  });

  it("exports each entry under its file's name", async () => {
    for (const { module, name, entry } of await catalogue())
      assert.equal(name, entry.file, `${module} exports ${entry.file} as ${name}`);
  });

  it("binds as many distinct parameters as each file's highest $n", async () => {
    for (const { name, entry } of await catalogue()) {
      assert.equal(new Set(entry.params).size, entry.params.length, `${name} lists a parameter twice`);
      for (const file of [entry.file, ...entry.fragments])
        assert.equal(
          entry.params.length,
          highestParam(file),
          `${name} binds ${entry.params.length} parameters, ${file}.sql numbers ${highestParam(file)}`,
        );
    }
  });

  it("uses every entry somewhere in src/", async () => {
    const used = importsFromCatalogue();
    const unused = (await catalogue())
      .filter(({ module, name }) => !used.has(`${module}:${name}`))
      .map(({ module, name }) => `${module}: ${name}`);
    assert.deepEqual(unused, []);
  });
});
