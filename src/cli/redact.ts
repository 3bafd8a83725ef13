import { UsageError } from "./args.ts";

/**
 * The connection string from `--url`, else `DATABASE_URL`; a usage error
 * when neither is set, or when its password needs percent-encoding.
 */
export const resolveUrl = (flag: string | undefined, env: NodeJS.ProcessEnv): string => {
  const url = flag ?? env["DATABASE_URL"];
  if (url === undefined || url === "")
    throw new UsageError("no database given: pass --url postgres://user@host/db or set DATABASE_URL");
  if (misread(url))
    throw new UsageError(
      `the connection string ${displayUrl(url)} does not parse as written: percent-encode the ` +
        "password (encodeURIComponent; @ is %40, / is %2F, ? is %3F, # is %23)",
    );
  const problem = malformed(url);
  // Not echoed: a string that does not parse has no known place for its
  // password, so any part of it may be one (` postgres://u:pw@h`, `"…"`).
  if (problem !== undefined)
    throw new UsageError(
      `the connection string (${flag === undefined ? "DATABASE_URL" : "--url"}) is malformed: ${problem}; expected ` +
        "postgres://user:password@host:port/database (or socket:/path/to/socket-dir?db=database)",
    );
  return url;
};

// pg reads anything that is not a URL as a database name on a host called
// `base` (its parser resolves it against `postgres://base`), so a typo such
// as `--url 'not a url'` failed later as `getaddrinfo ENOTFOUND base`. The
// forms pg really reads: a postgres(ql):// URL, a socket: URL, or a socket
// folder followed by a database name.
const malformed = (url: string): string | undefined => {
  if (url.startsWith("/") || /^socket:/i.test(url)) return undefined;
  const scheme = schemePattern.exec(url)?.[0];
  if (scheme === undefined)
    return /^\s*\w+\s*=/.test(url)
      ? "key=value strings are not read by pg, give a URL"
      : "it is not a URL (no postgres:// at its start)";
  if (!/^postgres(ql)?:\/\/$/i.test(scheme)) return `${scheme} is not a PostgreSQL URL scheme`;
  try {
    new URL(url);
    return undefined;
  } catch {
    return "it does not parse as a URL (a port over 65535, a space or a stray character in the host?)";
  }
};

/** A connection URL taken apart where its password cannot hide: the user info ends at the last `@`. */
interface UrlParts {
  /** `postgres://` and the like. */
  readonly scheme: string;
  /** The user name as typed; empty when none. */
  readonly user: string;
  /** The password as typed (percent-escaped or not); undefined when none. */
  readonly password: string | undefined;
  /** Everything after the user info: host, port, database, parameters. */
  readonly rest: string;
}

const schemePattern = /^[a-z][a-z0-9+.-]*:\/\//i;

// A password typed without percent-escaping (`p@ss/w:rd?x#y`) makes the
// WHATWG parser (and pg's, which is built on it) end the user info at the
// first `@`, or fail: the "password" it finds is a fragment, and the rest of
// the real one lands in the host or database. Users' passwords may hold any
// character, so the user info is taken to run to the last `@` of the
// authority-and-beyond, and the user name to end at its first `:` (a user
// name with a raw `:` is not valid in any form).
const partsOf = (url: string): UrlParts | undefined => {
  const scheme = schemePattern.exec(url)?.[0];
  if (scheme === undefined) return undefined;
  const afterScheme = url.slice(scheme.length);
  const at = afterScheme.lastIndexOf("@");
  if (at === -1) return { scheme, user: "", password: undefined, rest: afterScheme };
  const userInfo = afterScheme.slice(0, at);
  const colon = userInfo.indexOf(":");
  return {
    scheme,
    user: colon === -1 ? userInfo : userInfo.slice(0, colon),
    password: colon === -1 ? undefined : userInfo.slice(colon + 1),
    rest: afterScheme.slice(at + 1),
  };
};

/**
 * True when pg would read a different user or password than the one typed
 * (the `@`, `/`, `?` or `#` of an unescaped password): it would connect as
 * someone else, to a "host" made of the password's tail, and echo that
 * tail in its errors. Refused before connecting.
 */
const misread = (url: string): boolean => {
  const parts = partsOf(url);
  if (parts === undefined || parts.password === undefined) return false;
  try {
    const parsed = new URL(url);
    return (
      decoded(parsed.username) !== decoded(parts.user) || decoded(parsed.password) !== decoded(parts.password)
    );
  } catch {
    // Unparsable: the password's fault only if it parses with the password
    // percent-encoded (a port over 65535 is malformed whatever the password).
    try {
      new URL(`${parts.scheme}${parts.user}:${encodeURIComponent(decoded(parts.password))}@${parts.rest}`);
      return true;
    } catch {
      return false;
    }
  }
};

const decoded = (text: string): string => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

// libpq's `key=value` form: values bare or single-quoted with `\'` escapes.
const keyValuePassword = /(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/i;
/**
 * The values, as typed, of every parameter whose name holds "password"
 * (`password`, `sslpassword`, however cased or percent-escaped: pg decodes
 * the names) in the query string after the first `?`.
 */
const queryPasswords = (url: string): ReadonlyArray<string> => {
  const query = url.indexOf("?");
  if (query < 0) return [];
  return (url.slice(query + 1).split("#")[0] ?? "").split("&").flatMap((pair) => {
    const equals = pair.indexOf("=");
    return equals >= 0 && /password/i.test(decoded(pair.slice(0, equals))) ? [pair.slice(equals + 1)] : [];
  });
};

/** The passwords a connection string holds: in its user info and in a `password` parameter, raw and decoded. */
export const secretsOf = (url: string | undefined): ReadonlyArray<string> => {
  if (url === undefined) return [];
  const found = new Set<string>();
  const add = (secret: string | undefined | null): void => {
    if (secret === undefined || secret === null || secret === "") return;
    found.add(secret);
    found.add(decoded(secret));
  };
  const parts = partsOf(url);
  if (parts !== undefined) {
    add(parts.password);
    try {
      for (const [key, value] of new URL(url).searchParams) if (/password/i.test(key)) add(value);
      for (const secret of queryPasswords(url)) add(secret);
    } catch {
      // Unparsable: the user info above is all there is to hide.
    }
  } else {
    const keyValue = keyValuePassword.exec(url)?.[1];
    if (keyValue !== undefined) {
      add(keyValue);
      add(keyValue.replace(/^'|'$/g, "").replace(/\\(.)/g, "$1"));
    }
    // pg's `socket:/dir?db=x&password=…` form.
    for (const secret of queryPasswords(url)) add(secret);
  }
  // Longest first, so a secret that contains another is replaced whole.
  return [...found].filter((secret) => secret.length > 0).sort((a, b) => b.length - a.length);
};

const replaceAll = (text: string, secrets: ReadonlyArray<string>): string =>
  [...secrets]
    .sort((a, b) => b.length - a.length)
    .reduce((result, secret) => result.split(secret).join("****"), text);

/**
 * `text` with every secret of each of `urls` replaced by `****`: each URL
 * as typed first becomes its `displayUrl`, then any other copy of a secret
 * goes too. A secret that is also a visible part of its URL (the password
 * `postgres` of user `postgres` on `postgres://`, as an embedded server
 * has it) is left to the first step: replaced everywhere it would blank
 * the scheme and the user name, and PostgreSQL never echoes a password.
 */
export const redact = (text: string, ...urls: ReadonlyArray<string | undefined>): string => {
  const given = urls.filter((url): url is string => url !== undefined && url !== "");
  const shown = given.map(displayUrl);
  const whole = given.reduce((result, url, index) => result.split(url).join(shown[index] ?? ""), text);
  const visible = shown.join(" ");
  return replaceAll(
    whole,
    given.flatMap(secretsOf).filter((secret) => !visible.includes(secret)),
  );
};

/**
 * The connection string fit to print: the password replaced by `****`,
 * wherever it is (user info or a `password` parameter), however it is
 * escaped. What follows the user info is shown only when it parses as a
 * URL; a `key=value` string only with its password value blanked.
 */
export const displayUrl = (url: string): string => {
  const parts = partsOf(url);
  if (parts === undefined) return replaceAll(url, secretsOf(url));
  const userInfo =
    parts.password === undefined ? (parts.user === "" ? "" : `${parts.user}@`) : `${parts.user}:****@`;
  let rest: string;
  try {
    // Parsed on its own, with the user info gone, so nothing of it can leak here.
    const parsed = new URL(`${parts.scheme}${parts.rest}`);
    for (const key of [...parsed.searchParams.keys()])
      if (/password/i.test(key)) parsed.searchParams.set(key, "****");
    rest = parsed.toString().slice(parsed.protocol.length + 2);
  } catch {
    rest = "(unparsable host)";
  }
  return `${parts.scheme}${userInfo}${rest}`;
};
