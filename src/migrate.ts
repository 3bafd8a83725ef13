import { createHash } from "node:crypto";
import type pg from "pg";
import { MigrationError } from "./errors.ts";
import { quoteSchema } from "./identifier.ts";
import { readMigrations, withSchema } from "./sql.ts";

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

/**
 * Applies underway's migrations in their own schema, recorded in their own
 * table (`<schema>.migration`), so they never collide with the host
 * application's. Safe to call from many processes at once (an advisory lock
 * serialises them) and idempotent. An applied migration whose file changed
 * since is an error, not silently skipped.
 *
 * @example
 * await migrate(pool, { schema: "underway" });
 */
export const migrate = async (pool: pg.Pool, options: MigrateOptions = {}): Promise<MigrateResult> => {
  const schema = options.schema ?? "underway";
  const quoted = quoteSchema(schema);
  const migrations = readMigrations();
  const client = await pool.connect();
  const applied: string[] = [];
  const alreadyApplied: string[] = [];
  try {
    // Session-level lock, keyed by schema, held across the transactions below.
    await client.query("select pg_advisory_lock(hashtext($1))", [`underway.migrate:${schema}`]);
    try {
      await client.query(`create schema if not exists ${quoted}`);
      await client.query(
        `create table if not exists ${quoted}.migration (
           version integer primary key, name text not null, checksum text not null,
           applied_at timestamptz not null default now())`,
      );
      const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
        `select version, name, checksum from ${quoted}.migration order by version`,
      );
      const done = new Map(rows.map((row) => [row.version, row]));
      for (const migration of migrations) {
        const sum = checksum(migration.text);
        const previous = done.get(migration.version);
        if (previous !== undefined) {
          if (previous.checksum !== sum) {
            throw new MigrationError(
              `migration ${migration.name} was applied to schema ${schema} but its file has changed since ` +
                `(checksum ${previous.checksum.slice(0, 12)} applied, ${sum.slice(0, 12)} now); ` +
                "migrations are forward-only: add a new migration instead of editing an applied one",
            );
          }
          alreadyApplied.push(migration.name);
          continue;
        }
        await client.query("begin");
        try {
          await client.query(withSchema(migration.text, schema));
          await client.query(
            `insert into ${quoted}.migration (version, name, checksum) values ($1, $2, $3)`,
            [migration.version, migration.name, sum],
          );
          await client.query("commit");
        } catch (error) {
          await client.query("rollback");
          throw error;
        }
        applied.push(migration.name);
      }
      const known = new Set(migrations.map((migration) => migration.version));
      const unknown = rows.filter((row) => !known.has(row.version));
      if (unknown.length > 0) {
        throw new MigrationError(
          `schema ${schema} has migrations this version of underway does not know: ${unknown
            .map((row) => row.name)
            .join(", ")}; upgrade underway or use another schema`,
        );
      }
    } finally {
      await client.query("select pg_advisory_unlock(hashtext($1))", [`underway.migrate:${schema}`]);
    }
  } finally {
    client.release();
  }
  return { applied, alreadyApplied };
};
