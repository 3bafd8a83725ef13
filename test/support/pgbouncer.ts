// A real PgBouncer in transaction pooling mode in front of the server of
// DATABASE_URL, for the tests and benchmarks that must hold through one.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import pg from "pg";

/** A running PgBouncer; `url` rewrites a database URL to go through it. */
export interface PgBouncer {
  readonly port: number;
  /** The same database, user and password as `databaseUrl`, through the bouncer. */
  url(databaseUrl: string): string;
  /** What PgBouncer logged, for a failing test's message. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

const candidates = ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"];

/** The pgbouncer binary on this machine (PATH, then Debian's /usr/sbin), or undefined. */
export const pgbouncerBinary = (): string | undefined => {
  const path = (process.env["PATH"] ?? "").split(delimiter).filter((dir) => dir !== "");
  return [...path, ...candidates].map((dir) => join(dir, "pgbouncer")).find((file) => existsSync(file));
};

/**
 * Why the PgBouncer tests cannot run here, or false when they can: for
 * `describe(…, { skip: pgbouncerMissing() })`.
 */
export const pgbouncerMissing = (): string | false =>
  pgbouncerBinary() === undefined
    ? "pgbouncer is not installed (apt-get install -y --no-install-recommends pgbouncer); .ci/run installs it"
    : false;

const freePort = (): Promise<number> =>
  new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => done(port));
    });
  });

// A name and password in PgBouncer's auth_file syntax.
const quoted = (value: string): string => `"${value.replaceAll('"', '""')}"`;

const exitOf = (child: ChildProcess): Promise<void> =>
  new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once("exit", () => done());
  });

/**
 * Starts PgBouncer 1.18+ on 127.0.0.1 (a free port) with pool_mode =
 * transaction, in front of the server of `serverUrl` (every database on it,
 * through the `*` fallback entry). Clients are trusted; PgBouncer logs in
 * to PostgreSQL with the URL's password. As root it runs as `nobody`, since
 * it refuses to run as root.
 */
export const startPgBouncer = async (
  serverUrl: string,
  options: { readonly poolSize?: number } = {},
): Promise<PgBouncer> => {
  const binary = pgbouncerBinary();
  if (binary === undefined) throw new Error(String(pgbouncerMissing()));
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username || "postgres");
  const password = decodeURIComponent(server.password);
  const port = await freePort();
  const folder = await mkdtemp(join(tmpdir(), "underway-pgbouncer-"));
  await chmod(folder, 0o777); // PgBouncer, as nobody, writes its log here
  const logFile = join(folder, "pgbouncer.log");
  await writeFile(join(folder, "userlist.txt"), `${quoted(user)} ${quoted(password)}\n`, { mode: 0o644 });
  const config = [
    "[databases]",
    `* = host=${server.hostname || "127.0.0.1"} port=${server.port || "5432"}`,
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    "auth_type = trust",
    `auth_file = ${join(folder, "userlist.txt")}`,
    "pool_mode = transaction",
    `default_pool_size = ${options.poolSize ?? 20}`,
    "max_client_conn = 1000",
    "max_db_connections = 0",
    // pg sends none of these today; a driver that does must not be refused.
    "ignore_startup_parameters = extra_float_digits,options",
    `logfile = ${logFile}`,
    "log_connections = 0",
    "log_disconnections = 0",
  ].join("\n");
  const configFile = join(folder, "pgbouncer.ini");
  await writeFile(configFile, `${config}\n`, { mode: 0o644 });
  const asRoot = process.getuid?.() === 0;
  const child = spawn(binary, [...(asRoot ? ["-u", "nobody"] : []), configFile], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const log = async () => {
    const file = await readFile(logFile, "utf8").catch(() => "");
    return `${file}${stderr}`;
  };
  const url = (databaseUrl: string): string => {
    const through = new URL(databaseUrl);
    through.hostname = "127.0.0.1";
    through.port = String(port);
    return through.toString();
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exitOf(child);
    await rm(folder, { recursive: true, force: true });
  };
  // Up once a query goes through it to the server.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      const text = await log();
      await stop();
      throw new Error(`pgbouncer exited at start (${child.exitCode}): ${text.slice(-2_000)}`);
    }
    const probe = new pg.Client({ connectionString: url(serverUrl) });
    probe.on("error", () => undefined);
    try {
      await probe.connect();
      await probe.query("select 1");
      await probe.end();
      break;
    } catch (error) {
      await probe.end().catch(() => undefined);
      if (Date.now() > deadline) {
        const text = await log();
        await stop();
        throw new Error(`pgbouncer did not answer within 10 s: ${String(error)}\n${text.slice(-2_000)}`);
      }
      await new Promise((done) => setTimeout(done, 50));
    }
  }
  return { port, url, log, stop };
};
