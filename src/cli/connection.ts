import { UnderwayError } from "../errors.ts";
import { pendingMigrations, type PendingMigration } from "../migrate.ts";
import { silentLogger } from "../log.ts";
import { Underway } from "../underway.ts";
import { UsageError } from "./args.ts";

/** An expected failure (unreachable database, unmigrated schema): its message is printed, no stack. */
export class CliError extends Error {
  override readonly name = "CliError";
}

/** The connection string from `--url`, else `DATABASE_URL`; a usage error when neither is set. */
export const resolveUrl = (flag: string | undefined, env: NodeJS.ProcessEnv): string => {
  const url = flag ?? env["DATABASE_URL"];
  if (url === undefined || url === "")
    throw new UsageError("no database given: pass --url postgres://user@host/db or set DATABASE_URL");
  return url;
};

/** The secrets of a connection string: its password, raw and URL-decoded. */
export const secretsOf = (url: string | undefined): ReadonlyArray<string> => {
  if (url === undefined) return [];
  const found = new Set<string>();
  try {
    const password = new URL(url).password;
    if (password !== "") {
      found.add(password);
      found.add(decodeURIComponent(password));
    }
  } catch {
    // Not a URL: libpq's `key=value` form, handled below.
  }
  const keyValue = /password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/i.exec(url);
  if (keyValue?.[1] !== undefined) found.add(keyValue[1].replace(/^'|'$/g, ""));
  return [...found].filter((secret) => secret.length > 0);
};

/** `text` with every secret of `url` replaced by `****`. */
export const redact = (text: string, url: string | undefined): string =>
  secretsOf(url).reduce((result, secret) => result.split(secret).join("****"), text);

/** The connection string fit to print: password replaced, or only the host when it does not parse. */
export const displayUrl = (url: string): string => {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "****";
    return parsed.toString();
  } catch {
    return redact(url, url);
  }
};

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
