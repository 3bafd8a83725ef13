import { migrate, allMigrations, type PendingMigration } from "../../migrate.ts";
import { flagOf, UsageError } from "../args.ts";
import { exitCode, type Command, type CommandInput } from "../command.ts";

// One script for psql or another tool: a header saying how to run it, then
// each migration under its name.
const script = (schema: string, pending: ReadonlyArray<PendingMigration>, all: boolean): string => {
  if (pending.length === 0) return `-- underway: schema ${schema} is up to date; nothing to apply\n`;
  const what = all ? `all ${pending.length} migrations` : `${pending.length} pending migration(s)`;
  return [
    `-- underway: ${what} for schema ${schema}.`,
    "-- Run in one transaction, e.g. psql --single-transaction -v ON_ERROR_STOP=1 -f this.sql",
    ...pending.map((migration) => `\n-- ${migration.name}\n${migration.sql}`),
    "",
  ].join("\n");
};

const run = async (input: CommandInput): Promise<number> => {
  const dryRun = flagOf(input.parsed, "dry-run");
  const all = flagOf(input.parsed, "all");
  if (all && !dryRun) throw new UsageError("--all prints SQL only: use it with --dry-run");
  if (input.parsed.positionals.length > 0)
    throw new UsageError(`unexpected argument ${JSON.stringify(input.parsed.positionals[0])}`);
  if (all) {
    // Needs no database: the whole script for an empty one.
    const every = allMigrations(input.schema);
    if (input.json) input.printJson({ schema: input.schema, pending: every });
    else input.out(script(input.schema, every, true));
    return exitCode.ok;
  }
  const { underway, pending } = await input.open();
  if (dryRun) {
    if (input.json) input.printJson({ schema: input.schema, pending });
    else input.out(script(input.schema, pending, false));
    return pending.length > 0 ? exitCode.wouldChange : exitCode.ok;
  }
  const result = await migrate(underway.pool, { schema: input.schema });
  if (input.json) input.printJson({ schema: input.schema, ...result });
  else if (result.applied.length === 0)
    input.out(`schema ${input.schema} is up to date (${result.alreadyApplied.length} migrations applied)\n`);
  else input.out(`applied to schema ${input.schema}: ${result.applied.join(", ")}\n`);
  return exitCode.ok;
};

/** `underway migrate`: the only command that changes the schema. */
export const migrateCommand: Command = {
  name: "migrate",
  summary: "apply pending migrations, or print their SQL with --dry-run",
  description:
    "Applies underway's migrations to the schema (safe to run from several deploys at once: an\n" +
    "advisory lock serialises them). --dry-run changes nothing and prints the SQL of the pending\n" +
    "migrations, the schema substituted, including their rows in <schema>.migration, for your own\n" +
    "migration tool; it exits 3 when something is pending.",
  options: {
    "dry-run": { type: "boolean", description: "print the pending migrations' SQL instead of applying it" },
    all: {
      type: "boolean",
      description: "with --dry-run: every migration, as for an empty database (no connection)",
    },
  },
  examples: [
    "underway migrate",
    "underway migrate --dry-run --schema jobs > underway.sql",
    "underway migrate --dry-run --all > 0001_underway.sql",
  ],
  run,
};
