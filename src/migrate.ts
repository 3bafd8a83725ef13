import { createHash } from "node:crypto";
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

interface AppliedRow {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
}

/** Refuses a schema whose applied migrations this version cannot vouch for. */
const checkApplied = (
  schema: string,
  migrations: ReadonlyArray<MigrationFile>,
  rows: ReadonlyArray<AppliedRow>,
): void => {
  const files = new Map(migrations.map((migration) => [migration.version, migration]));
  const unknown = rows.filter((row) => !files.has(row.version));
  if (unknown.length > 0) {
    throw new MigrationError(
      `schema ${schema} has migrations this version of underway does not know: ${unknown
        .map((row) => row.name)
        .join(", ")}; upgrade underway or use another schema`,
    );
  }
  for (const row of rows) {
    const file = files.get(row.version);
    if (file === undefined) continue; // reported above
    const sum = checksum(file.text);
    if (row.checksum !== sum) {
      throw new MigrationError(
        `migration ${file.name} was applied to schema ${schema} but its file has changed since ` +
          `(checksum ${row.checksum.slice(0, 12)} applied, ${sum.slice(0, 12)} now); ` +
          "migrations are forward-only: add a new migration instead of editing an applied one",
      );
    }
  }
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
      await client.query(`create schema if not exists ${quoted}`);
      await client.query(
        `create table if not exists ${quoted}.migration (
           version integer primary key, name text not null, checksum text not null,
           applied_at timestamptz not null default now())`,
      );
      const { rows } = await client.query<AppliedRow>(
        `select version, name, checksum from ${quoted}.migration order by version`,
      );
      checkApplied(schema, migrations, rows);
      const done = new Set(rows.map((row) => row.version));
      const applied: string[] = [];
      const alreadyApplied: string[] = [];
      for (const migration of migrations) {
        if (done.has(migration.version)) {
          alreadyApplied.push(migration.name);
          continue;
        }
        await client.query(withSchema(migration.text, schema));
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
