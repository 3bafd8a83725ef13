// Loaded only by commands that connect (dynamic import in runCli.ts), so
// `--help` and usage errors do not load pg, rxjs and the rest.
import { UnderwayError } from "../errors.ts";
import { pendingMigrations, type PendingMigration } from "../migrate.ts";
import { silentLogger } from "../log.ts";
import { Underway } from "../underway.ts";
import { CliError } from "./command.ts";
import { displayUrl } from "./redact.ts";

/**
 * A client (`migrate: false`) and the migrations still pending on `schema`.
 * The first query tells an unreachable server or a wrong password apart
 * from the errors of the command that follows.
 */
export const openClient = async (
  url: string,
  schema: string,
): Promise<{ readonly underway: Underway; readonly pending: ReadonlyArray<PendingMigration> }> => {
  const underway = await Underway.connect({
    connectionString: url,
    schema,
    migrate: false,
    logger: silentLogger,
    // An operator waits at a terminal: fail rather than hang on a stuck server.
    queryTimeoutMs: 30_000,
  });
  try {
    const pending = await pendingMigrations(underway.pool, { schema }).catch((error: unknown) => {
      if (error instanceof UnderwayError) throw error;
      throw new CliError(
        `cannot use the database at ${displayUrl(url)}: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    return { underway, pending };
  } catch (error) {
    await underway.close();
    throw error;
  }
};

/** A client on a migrated `schema`: a CLI never migrates by itself, it says what to run instead. */
export const connectMigrated = async (url: string, schema: string): Promise<Underway> => {
  const { underway, pending } = await openClient(url, schema);
  if (pending.length > 0) {
    await underway.close();
    throw new CliError(
      `schema ${schema} is not migrated (${pending.length} pending: ${pending
        .map((migration) => migration.name)
        .join(", ")}); run \`underway migrate\` first, or \`underway migrate --dry-run\` for the SQL`,
    );
  }
  return underway;
};
