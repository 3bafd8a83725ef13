// Process checks for the embedded dev database. Synchronous on purpose: they
// also run inside a process 'exit' listener and a signal listener that must
// finish before the process dies, where no promise would ever settle.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";

const hasProc = (): boolean => existsSync("/proc/self/stat");

/** Fields of `/proc/<pid>/stat` after the command name (state first), or undefined off Linux or once gone. */
const procStat = (pid: number): string[] | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may itself contain spaces and parentheses: split after its last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
};

/** The kernel's start time of `pid` (clock ticks since boot), to tell a reused PID apart; Linux only. */
export const processStartTime = (pid: number): string | undefined => procStat(pid)?.[19];

/** The parent PID of `pid` (1 or a subreaper once its parent died); Linux only. */
export const processParent = (pid: number): number | undefined => {
  const parent = procStat(pid)?.[1];
  return parent === undefined ? undefined : Number(parent);
};

/** The command line of `pid`, or undefined once it is gone. */
export const processCommand = (pid: number): string | undefined => {
  if (hasProc()) {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
    } catch {
      return undefined;
    }
  }
  const ps = spawnSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8" });
  return ps.status === 0 ? ps.stdout.trim() : undefined;
};

/**
 * Whether `pid` is a live process. A zombie (exited, not yet reaped: our own
 * server child seen from inside an 'exit' listener, where Node never reaps)
 * counts as gone; a process of another user counts as live.
 */
export const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  if (hasProc()) {
    const state = procStat(pid)?.[0];
    return state !== undefined && state !== "Z";
  }
  const ps = spawnSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" });
  return ps.status === 0 && !ps.stdout.trim().startsWith("Z");
};

/**
 * Whether any live process is left in process group `pgid`. The kernel does
 * not reuse a PID as long as a group of that id has members, so a group found
 * alive is still the one that was started.
 */
export const groupRunning = (pgid: number): boolean => {
  if (process.platform === "win32") return isRunning(pgid);
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return isRunning(pgid); // not a group leader's
  }
  if (hasProc()) {
    return readdirSync("/proc").some((entry) => {
      const fields = /^\d+$/.test(entry) ? procStat(Number(entry)) : undefined;
      return fields !== undefined && fields[2] === String(pgid) && fields[0] !== "Z";
    });
  }
  const ps = spawnSync("ps", ["-A", "-o", "pgid=,stat="], { encoding: "utf8" });
  return ps.stdout.split("\n").some((line) => {
    const [group, state] = line.trim().split(/\s+/);
    return group === String(pgid) && state !== undefined && !state.startsWith("Z");
  });
};

const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** Signals a process started with `detached: true` together with its children (its process group). */
const signalGroup = (pid: number, signal: NodeJS.Signals): void => {
  for (const target of process.platform === "win32" ? [pid] : [-pid, pid]) {
    try {
      process.kill(target, signal);
      return;
    } catch (error) {
      // ESRCH for the group: `pid` leads none (a server an older version started); then `pid` alone.
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }
};

/**
 * Stops a server started in its own process group and waits until no process
 * of the group is left: `signal` first (SIGQUIT is PostgreSQL's immediate
 * shutdown, right for a server whose data is about to be deleted), SIGKILL
 * after `graceMs`. Returns whether they are gone.
 */
export const stopProcessGroupSync = (pid: number, signal: NodeJS.Signals, graceMs = 10_000): boolean => {
  signalGroup(pid, signal);
  const until = (deadline: number): boolean => {
    while (groupRunning(pid)) {
      if (Date.now() > deadline) return false;
      sleepSync(25);
    }
    return true;
  };
  if (until(Date.now() + graceMs)) return true;
  signalGroup(pid, "SIGKILL");
  return until(Date.now() + 5_000);
};
