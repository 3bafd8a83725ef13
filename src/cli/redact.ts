import { UsageError } from "./args.ts";

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
