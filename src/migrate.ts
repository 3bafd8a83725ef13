import { createHash } from "node:crypto";
import { checkOptionShape } from "./optionShape.ts";
import type pg from "pg";
import { MigrationError } from "./errors.ts";
import { quoteSchema } from "./identifier.ts";
import { readMigrations, withSchema, type MigrationFile } from "./sql.ts";

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** Schema holding underway's tables and its migrations table. Default `underway`. */
  readonly schema?: string;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** Migrations this call applied, by file name without `.sql` (`"0001_init"`), in order. */
  readonly applied: ReadonlyArray<string>;
  /** Migrations found already applied (and unchanged), by name, in order. */
  readonly alreadyApplied: ReadonlyArray<string>;
}

const checksum = (text: string): string => createHash("sha256").update(text).digest("hex");

/** A migration {@link pendingMigrations} found not applied yet, as SQL for one schema. */
export interface PendingMigration {
  /** Its number (`1` for `0001_init`). */
  readonly version: number;
  /** Its file name without `.sql` (`"0001_init"`). */
  readonly name: string;
  /**
   * Everything `migrate` would run for it, the schema substituted: the
   * migration and its row in `<schema>.migration` (so `migrate` later finds
   * it applied). The first one of a schema without a migration table also
   * creates the schema and that table. Meant to run in order, in one
   * transaction.
   */
  readonly sql: string;
}

// Shared by migrate() and pendingMigrations(): the one definition of the
// migrations table, so SQL printed for another tool matches what migrate does.
const createSchema = (quoted: string): string => `create schema if not exists ${quoted};\n`;
const createTable = (quoted: string): string =>
  `create table if not exists ${quoted}.migration (\n` +
  "  version integer primary key, name text not null, checksum text not null,\n" +
  "  applied_at timestamptz not null default now());\n";
const preamble = (quoted: string): string => createSchema(quoted) + createTable(quoted);

// An applied migration must still match its file, and the schema must not
// hold migrations newer than this version of underway.
const verifyApplied = (
  schema: string,
  migrations: ReadonlyArray<MigrationFile>,
  rows: ReadonlyArray<AppliedRow>,
): void => {
  const files = new Map(migrations.map((migration) => [migration.version, migration]));
  for (const row of rows) {
    const file = files.get(row.version);
    if (file === undefined) continue;
    const sum = checksum(file.text);
    if (row.checksum !== sum) {
      throw new MigrationError(
        `migration ${file.name} was applied to schema ${schema} but its file has changed since ` +
          `(checksum ${row.checksum.slice(0, 12)} applied, ${sum.slice(0, 12)} now); ` +
          "migrations are forward-only: add a new migration instead of editing an applied one",
      );
    }
  }
  const unknown = rows.filter((row) => !files.has(row.version));
  if (unknown.length > 0) {
    throw new MigrationError(
      `schema ${schema} has migrations this version of underway does not know: ${unknown
        .map((row) => row.name)
        .join(", ")}; upgrade underway or use another schema`,
    );
  }
};

interface AppliedRow {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
}

const asPending = (migration: MigrationFile, schema: string, first: boolean): PendingMigration => {
  const quoted = quoteSchema(schema);
  const record =
    `insert into ${quoted}.migration (version, name, checksum)\n` +
    `  values (${migration.version}, '${migration.name}', '${checksum(migration.text)}');\n`;
  const body = withSchema(migration.text, schema).trimEnd();
  return {
    version: migration.version,
    name: migration.name,
    // On a line of its own: a file ending in a comment must not swallow it.
    sql: `${first ? preamble(quoted) : ""}${body}${body.endsWith(";") ? "" : "\n;"}\n${record}`,
  };
};

/**
 * The migrations {@link migrate} would apply to a schema, each as SQL with
 * the schema substituted, for teams whose own migration tool applies
 * everything (`underway migrate --dry-run` prints them). Reads only: it
 * creates nothing, and finds every migration pending in a schema that does
 * not exist yet. Rejects with a `MigrationError` as `migrate` would (an
 * applied migration edited since, or one unknown to this version).
 *
 * @example
 * const pending = await pendingMigrations(pool, { schema: "underway" });
 * if (pending.length > 0) throw new Error(`run underway migrate: ${pending.map((m) => m.name).join(", ")}`);
 */
export const pendingMigrations = async (
  pool: pg.Pool,
  options: MigrateOptions = {},
): Promise<ReadonlyArray<PendingMigration>> => {
  checkOptionShape("pendingMigrations options", options, { schema: "string" });
  const schema = options.schema ?? "underway";
  const quoted = quoteSchema(schema);
  const migrations = readMigrations();
  // to_regclass: no error (and no lock) when the schema or table is missing.
  const { rows: exists } = await pool.query<{ table: string | null }>(
    "select to_regclass($1)::text as table",
    [`${quoted}.migration`],
  );
  const rows =
    exists[0]?.table == null
      ? []
      : (
          await pool.query<AppliedRow>(
            `select version, name, checksum from ${quoted}.migration order by version`,
          )
        ).rows;
  verifyApplied(schema, migrations, rows);
  const applied = new Set(rows.map((row) => row.version));
  const missingTable = exists[0]?.table == null;
  return migrations
    .filter((migration) => !applied.has(migration.version))
    .map((migration, index) => asPending(migration, schema, missingTable && index === 0));
};

/** Every migration as {@link PendingMigration} SQL for `schema`, as for an empty database; reads no database. */
export const allMigrations = (schema = "underway"): ReadonlyArray<PendingMigration> =>
  readMigrations().map((migration, index) => asPending(migration, schema, index === 0));

/**
 * PostgreSQL refusing a statement of a migration (no privilege, a table of
 * the same name there already, a connection lost): one line naming the
 * migration, the schema and what PostgreSQL said, with its SQLSTATE, and
 * pg's error as the cause. Errors without a SQLSTATE pass through.
 */
const refused = (what: string, schema: string, error: unknown): unknown => {
  const code =
    typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
      ? error.code
      : undefined;
  if (code === undefined) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new MigrationError(
    `${what} failed in schema ${schema}: ${message} (SQLSTATE ${code}); nothing was applied`,
    { cause: error },
  );
};

/**
 * Applies underway's migrations in their own schema, recorded in their own
 * table (`<schema>.migration`), so they never collide with the host
 * application's. Safe to call from many processes at once and idempotent.
 * An applied migration whose file changed since is an error, not silently
 * skipped.
 *
 * Everything happens in one transaction that starts by taking a
 * transaction-scoped advisory lock (keyed by schema): the lock ends with
 * the transaction, so it cannot outlive it on a connection a pooler hands
 * to someone else (PgBouncer in transaction mode), and a failed migration
 * leaves the schema as it was.
 *
 * @example
 * await migrate(pool, { schema: "underway" });
 */
export const migrate = async (pool: pg.Pool, options: MigrateOptions = {}): Promise<MigrateResult> => {
  checkOptionShape("migrate options", options, { schema: "string" });
  const schema = options.schema ?? "underway";
  const quoted = quoteSchema(schema);
  const migrations = readMigrations();
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query("begin");
    try {
      // Same key as the session lock of earlier versions, so a process still
      // running one of those and this one exclude each other too.
      await client.query("select pg_advisory_xact_lock(hashtext($1))", [`underway.migrate:${schema}`]);
      // CREATE SCHEMA, even IF NOT EXISTS, needs CREATE on the database:
      // a role given a schema made for it by an administrator (a managed
      // database's usual set-up) has none, so it is left out when the schema
      // is there.
      const { rows } = await client
        .query<{ present: boolean }>("select to_regnamespace($1) is not null as present", [quoted])
        .then(({ rows: found }) =>
          client.query((found[0]?.present === true ? "" : createSchema(quoted)) + createTable(quoted)),
        )
        .then(() =>
          client.query<AppliedRow>(
            `select version, name, checksum from ${quoted}.migration order by version`,
          ),
        )
        .catch((error: unknown) => {
          throw refused("the migration table", schema, error);
        });
      verifyApplied(schema, migrations, rows);
      const done = new Set(rows.map((row) => row.version));
      const applied: string[] = [];
      const alreadyApplied: string[] = [];
      for (const migration of migrations) {
        if (done.has(migration.version)) {
          alreadyApplied.push(migration.name);
          continue;
        }
        await client.query(withSchema(migration.text, schema)).catch((error: unknown) => {
          throw refused(`migration ${migration.name}`, schema, error);
        });
        await client.query(`insert into ${quoted}.migration (version, name, checksum) values ($1, $2, $3)`, [
          migration.version,
          migration.name,
          checksum(migration.text),
        ]);
        applied.push(migration.name);
      }
      await client.query("commit");
      return { applied, alreadyApplied };
    } catch (error) {
      // A connection that cannot even roll back is not given back to the pool.
      await client.query("rollback").catch(() => {
        broken = true;
      });
      throw error;
    }
  } finally {
    client.release(broken ? true : undefined);
  }
};
