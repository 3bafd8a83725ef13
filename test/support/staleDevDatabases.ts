// What a killed run (kill -9, a crash, a closed terminal) of the embedded dev
// database leaves behind, and its removal at the next start.
//
// Each server lives in `<root>/pg-XXXXXX/` (the data folder in `data/`,
// the server log in `postgres.log`) with `owner.json`: the PID and start
// time of the Node process that started it, and the PID of its watchdog
// (which normally removes the folder itself; not when it was killed too). A folder whose owner is alive is
// never touched, as several test runs may share a root. Otherwise its
// postmaster, if still running, is stopped, and the folder removed.
import { readFileSync } from "node:fs";
import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  isRunning,
  processCommand,
  processParent,
  processStartTime,
  stopProcessGroupSync,
} from "./postgresProcess.ts";

interface Owner {
  readonly pid: number;
  /** Undefined where the platform does not tell (no /proc). */
  readonly started?: string;
  /** The process that removes the folder once the owner is gone (devDatabaseWatchdog.ts). */
  readonly watchdog?: number;
}

const ownerFile = (dir: string): string => join(dir, "owner.json");

/** Records this process as the owner of the server folder `dir`, and who cleans up after it. */
export const writeOwner = async (dir: string, watchdog: number | undefined): Promise<void> => {
  const owner: Owner = { pid: process.pid, started: processStartTime(process.pid), watchdog };
  await writeFile(ownerFile(dir), `${JSON.stringify(owner)}\n`);
};

const readOwner = async (dir: string): Promise<Owner | undefined> => {
  try {
    return JSON.parse(await readFile(ownerFile(dir), "utf8")) as Owner;
  } catch {
    return undefined;
  }
};

/** The postmaster's PID from its lock file in `dataDir`, if the file is there (the server may be gone). */
export const postmasterPid = (dataDir: string): number | undefined => {
  try {
    const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
};

/** A folder created under a minute ago may still be getting its owner file. */
const youngerThanAMinute = async (dir: string): Promise<boolean> =>
  Date.now() - (await stat(dir)).mtimeMs < 60_000;

const ownerAlive = async (dir: string, postmaster: number | undefined): Promise<boolean> => {
  const owner = await readOwner(dir);
  if (owner !== undefined) {
    return (
      isRunning(owner.pid) && (owner.started === undefined || processStartTime(owner.pid) === owner.started)
    );
  }
  if (await youngerThanAMinute(dir)) return true;
  // A folder without an owner file (left by an older version): a live server
  // still owned by some process (its parent is not init) is left alone.
  if (postmaster === undefined || !isRunning(postmaster)) return false;
  return processParent(postmaster) !== 1;
};

const stopped = (postmaster: number): boolean => {
  try {
    return stopProcessGroupSync(postmaster, "SIGQUIT");
  } catch {
    return false;
  }
};

/**
 * Stops the orphaned servers under `root` and removes every server folder
 * whose owning process is gone. Returns the folders removed.
 */
export const removeStaleDevDatabases = async (root: string): Promise<string[]> => {
  const removed: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith("pg-")) continue;
    const dir = join(root, entry.name);
    const dataDir = join(dir, "data");
    const postmaster = postmasterPid(dataDir);
    if (await ownerAlive(dir, postmaster).catch(() => true)) continue;
    // Only a process serving this very folder: the PID may since have been reused.
    const serving =
      postmaster !== undefined &&
      isRunning(postmaster) &&
      processCommand(postmaster)?.includes(dataDir) === true;
    // A server this user may not signal, or that will not die, keeps its folder.
    if (serving && !stopped(postmaster)) continue;
    // What cannot be removed now (a process still writing there) is tried again at the next start.
    if (
      await rm(dir, { recursive: true, force: true, maxRetries: 5 }).then(
        () => true,
        () => false,
      )
    )
      removed.push(dir);
  }
  return removed;
};
