// The query catalogue (src/db/) held to the SQL files of db/queries/: each
// file belongs to exactly one entry, each entry binds the parameters its SQL
// names (in their order) or as many as it numbers, each shared fragment of
// db/fragments/ is spliced somewhere, and each entry is used by the library. Files only, no
// database: the queries themselves run against PostgreSQL in the other
// tests, through the API.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { QueryEntry } from "../src/db/query.ts";
import { queryNames, type QueryName } from "../src/db/queryNames.ts";
import { queryText } from "../src/queryText.ts";
import { fragmentNames, readQueryText } from "../src/sql.ts";

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
 * The highest `$n` of a query's SQL as loaded (fragments spliced, names
 * numbered), comments left out: a filtered query's comments name where the
 * filter's own parameters start, which the filter numbers, not the entry.
 */
const highestParam = (name: QueryName): number => {
  const code = readQueryText(name).text.replace(/--.*$/gm, "");
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

  it("binds a file's named parameters by their names, in their order of first appearance", async () => {
    for (const { name, entry } of await catalogue()) {
      const named = readQueryText(entry.file).params;
      if (named.length > 0)
        assert.deepEqual(
          entry.params,
          named,
          `${name}'s list against the :names of ${entry.file}.sql (and its fragments)`,
        );
    }
  });

  it("splices every fragment of db/fragments/ somewhere", () => {
    const used = new Set(queryNames.flatMap((name) => readQueryText(name).fragments));
    assert.deepEqual(
      fragmentNames().filter((fragment) => !used.has(fragment)),
      [],
      "fragments no query splices",
    );
  });

  it("uses every entry somewhere in src/", async () => {
    const used = importsFromCatalogue();
    const unused = (await catalogue())
      .filter(({ module, name }) => !used.has(`${module}:${name}`))
      .map(({ module, name }) => `${module}: ${name}`);
    assert.deepEqual(unused, []);
  });
});

/** queryText over files held in memory, by their path under db/. */
const load = (files: Record<string, string>, name = "q") => queryText(name, (path) => files[path]);

describe("query loader", () => {
  it("splices fragments and numbers named parameters in order of first appearance", () => {
    const { text, params, fragments } = load({
      "queries/q.sql":
        "-- $1 in a comment, {{> gone}} too\nselect {{> pair}}, :b::int, ':a', \":a\", x[1:2] where {{> pair}}\n",
      "fragments/pair.sql": "-- The header comment is left out.\n:a + :b\n",
    });
    assert.equal(
      text,
      "-- $1 in a comment, {{> gone}} too\nselect $1 + $2, $2::int, ':a', \":a\", x[1:2] where $1 + $2\n",
    );
    assert.deepEqual(params, ["a", "b"]);
    assert.deepEqual(fragments, ["pair"]);
  });

  it("refuses a fragment reference that does not resolve, naming the file and the fragment", () => {
    assert.throws(
      () => load({ "queries/q.sql": "select 1 where {{> claimCandidate}}" }),
      /db\/queries\/q\.sql: fragment \{\{> claimCandidate\}\} not found in db\/fragments\//,
    );
    assert.throws(
      () =>
        load({
          "queries/q.sql": "select {{> a}}",
          "fragments/a.sql": "{{> b}}",
          "fragments/b.sql": "{{> a}}",
        }),
      /db\/fragments\/b\.sql: fragment \{\{> a\}\} splices itself/,
    );
  });

  it("refuses a file that mixes $n with named parameters, naming the file and the names", () => {
    assert.throws(
      () => load({ "queries/q.sql": "select :queue, $2" }),
      /db\/queries\/q\.sql: mixes \$n with named parameters \(:queue\)/,
    );
  });
});
