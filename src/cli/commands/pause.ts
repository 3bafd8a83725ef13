import { UsageError } from "../args.ts";
import { exitCode, type Command, type CommandInput } from "../command.ts";

const queuesOf = (input: CommandInput): ReadonlyArray<string> => {
  const queues = input.parsed.positionals;
  if (queues.length === 0) throw new UsageError("name at least one queue");
  return queues;
};

/** `underway pause <queue>...`: stored on the queue's row, seen by every process. */
export const pauseCommand: Command = {
  name: "pause",
  summary: "pause queues in every process (running tasks finish)",
  args: "<queue>...",
  description:
    "A paused queue is claimed by no worker anywhere until resumed; the pause outlives restarts.\n" +
    "Enqueues, schedules and outcome streams go on. Pausing a paused queue keeps its first pause time.",
  options: {},
  examples: ["underway pause email", "underway pause email sms --json"],
  run: async (input) => {
    const queues = queuesOf(input);
    const underway = await input.connect();
    const paused: Array<{ queue: string; pausedAt: Date | null }> = [];
    for (const queue of queues) {
      await underway.pauseQueue(queue);
      paused.push({ queue, pausedAt: await underway.queuePausedAt(queue) });
    }
    if (input.json) input.printJson(paused);
    else
      for (const { queue, pausedAt } of paused)
        input.out(`paused ${queue} (since ${pausedAt?.toISOString()})\n`);
    return exitCode.ok;
  },
};

/** `underway resume <queue>...`: workers everywhere wake at once. */
export const resumeCommand: Command = {
  name: "resume",
  summary: "resume paused queues (their workers wake at once)",
  args: "<queue>...",
  options: {},
  examples: ["underway resume email"],
  run: async (input) => {
    const queues = queuesOf(input);
    const underway = await input.connect();
    for (const queue of queues) await underway.resumeQueue(queue);
    if (input.json) input.printJson(queues.map((queue) => ({ queue, pausedAt: null })));
    else for (const queue of queues) input.out(`resumed ${queue}\n`);
    return exitCode.ok;
  },
};
