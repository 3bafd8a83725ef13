// The query catalogue (src/db/) held to the SQL files of db/queries/: each
// file belongs to exactly one entry, each entry binds the parameters its SQL
// names (in their order) or as many as it numbers, each shared fragment of
// db/fragments/ is spliced somewhere; the store (src/db/store.ts) has one
// method per statement file, each called by the library, and nothing
// outside src/db/ runs a query but through it. Files only, no database: the
// queries themselves run against PostgreSQL in the other tests, through the
// API.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type pg from "pg";
import type { Queryable, QueryEntry, Sql } from "../src/db/query.ts";
import { branchNames, queryNames, type QueryName } from "../src/db/queryNames.ts";
import { catalogue, storeOf } from "../src/db/store.ts";
import type { Queries } from "../src/sql.ts";
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
const exportedEntries = async (): Promise<ReadonlyArray<Found>> => {
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

/** The text of every src/ file outside src/db/, by its path under src/. */
const callerFiles = (): ReadonlyArray<readonly [string, string]> =>
  sourceFiles()
    .filter((path) => !path.startsWith("db/"))
    .map((path) => [path, readFileSync(new URL(path, srcFolder), "utf8")] as const);

/** The queries (values named after a statement) a file imports from the query files of src/db/ (`*Queries.ts`). */
const queryImports = (text: string): string[] =>
  [...text.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s*from\s*"[^"]*\/db\/\w+Queries\.ts"/g)].flatMap(
    ([, typeOnly, names]) =>
      typeOnly !== undefined
        ? []
        : (names ?? "")
            .split(",")
            .map((part) => part.trim().split(/\s+as\s+/)[0] ?? "")
            .filter((name) => Object.hasOwn(catalogue, name)),
  );

/** A client's Sql, never run: the store is only built and its bindings inspected. */
const sqlOf = (queries: Partial<Queries> = {}): Sql => ({
  schema: "s",
  queries: queries as Queries,
  preparedStatements: true,
  onCollision: () => undefined,
});

describe("query catalogue", () => {
  it("names exactly the files of db/queries/", () => {
    assert.deepEqual([...queryNames].sort(), sqlFiles());
  });

  it("gives every SQL file to exactly one entry", async () => {
    const owners = new Map<string, string[]>(sqlFiles().map((file) => [file, []]));
    for (const { name, entry } of await exportedEntries())
      for (const file of [entry.file, ...entry.fragments]) owners.get(file)?.push(name);
    const wrong = [...owners].filter(([, names]) => names.length !== 1);
    assert.deepEqual(wrong, [], "files with no entry, or with more than one");
  });

  it("exports each entry under its file's name", async () => {
    for (const { module, name, entry } of await exportedEntries())
      assert.equal(name, entry.file, `${module} exports ${entry.file} as ${name}`);
  });

  it("binds as many distinct parameters as each file's highest $n", async () => {
    for (const { name, entry } of await exportedEntries()) {
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
    for (const { name, entry } of await exportedEntries()) {
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

  it("builds a store with one method per statement file, named after it", () => {
    const statements = sqlFiles().filter((file) => !(branchNames as ReadonlyArray<string>).includes(file));
    assert.deepEqual(Object.keys(storeOf(sqlOf())).sort(), statements);
    for (const [name, query] of Object.entries(catalogue))
      assert.equal(query.file, name, `the store's ${name} runs ${query.file}.sql`);
    // A branch is a statement's part, not a statement: it belongs to one.
    for (const branch of branchNames)
      assert.equal(
        Object.values(catalogue).filter((query) => query.fragments.includes(branch)).length,
        1,
        `${branch}.sql is a branch of one statement`,
      );
  });

  it("gives every catalogue entry to the store", async () => {
    const inStore = new Set<unknown>(Object.values(catalogue));
    const missing = (await exportedEntries())
      .filter(({ entry }) => !inStore.has(entry))
      .map(({ name }) => name);
    assert.deepEqual(missing, [], "queries of src/db/ the store does not hold");
  });

  it("binds a store's methods to its client's Sql", async () => {
    const sent: unknown[] = [];
    const db: Queryable = {
      query: async <R extends pg.QueryResultRow>(config: pg.QueryConfig) => {
        sent.push(config);
        return { rows: [{ id: "7" } as unknown as R], command: "", rowCount: 1, oid: 0, fields: [] };
      },
    };
    const sql = sqlOf({ tasksRelease: "release $1 $2" });
    const released = await storeOf(sql).tasksRelease(db, { ids: ["7"], attempts: [2] })();
    assert.deepEqual(released, { _tag: "Right", right: ["7"] });
    sql.preparedStatements = false;
    await storeOf(sql).tasksRelease(db, { ids: ["8"], attempts: [3] })();
    assert.deepEqual(sent, [
      { name: "underway.s.tasksRelease", text: "release $1 $2", values: [["7"], [2]] },
      { text: "release $1 $2", values: [["8"], [3]] },
    ]);
  });

  it("calls every method of the store somewhere in src/", () => {
    const texts = callerFiles().map(([, text]) => text);
    const uncalled = Object.keys(catalogue).filter(
      (name) => !texts.some((text) => new RegExp(`\\.${name}\\(`).test(text)),
    );
    assert.deepEqual(uncalled, []);
  });

  it("runs no query outside src/db/ but through the store", () => {
    const direct = callerFiles().flatMap(([path, text]) =>
      queryImports(text).map((name) => `${path}: ${name}`),
    );
    assert.deepEqual(
      direct,
      [],
      "values imported from src/db/*Queries.ts: call store.<name>(db, params) instead",
    );
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
