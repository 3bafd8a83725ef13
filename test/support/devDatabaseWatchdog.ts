// Runs beside an embedded dev database (see devDatabase.ts), started by the
// Node process that owns it, in a process group of its own so that a Ctrl-C
// meant for that process never reaches it. It reads the PIDs to stop (initdb,
// then the server), one per line, from stdin, a pipe whose only writer is the
// owner. When the pipe closes (the owner called stop(), exited, died of a
// signal, or was killed with kill -9: the kernel closes it in every case), it
// stops those processes and removes the server's folder.
import { rm } from "node:fs/promises";
import { createInterface } from "node:readline";
import { groupRunning, isRunning, processCommand, stopProcessGroupSync } from "./postgresProcess.ts";

const folder = process.argv[2];
if (folder === undefined) throw new Error("usage: devDatabaseWatchdog.ts <server folder>");
const pids: number[] = [];
const lines = createInterface({ input: process.stdin });
process.stdout.write("watching\n");
for await (const line of lines) {
  const pid = Number(line);
  if (Number.isInteger(pid) && pid > 0) pids.push(pid);
}
for (const pid of pids.reverse()) {
  // Only this server's group: a leader's PID may have been reused since it exited.
  const ours = !isRunning(pid) || processCommand(pid)?.includes(folder) === true;
  if (ours && groupRunning(pid)) stopProcessGroupSync(pid, "SIGQUIT");
}
await rm(folder, { recursive: true, force: true, maxRetries: 5 });
