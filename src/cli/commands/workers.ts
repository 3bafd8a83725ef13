import { UsageError } from "../args.ts";
import { exitCode, type Command } from "../command.ts";
import { formatAge, formatDate, table } from "../table.ts";

/** `underway workers`: the live processes running workers. */
export const workersCommand: Command = {
  name: "workers",
  summary: "live worker processes: host, pid, queues with concurrency, last heartbeat",
  description: "Processes not heard from for 30 s (crashed or frozen) are left out.",
  options: {},
  examples: ["underway workers", "underway workers --json"],
  run: async (input) => {
    if (input.parsed.positionals.length > 0)
      throw new UsageError(`unexpected argument ${JSON.stringify(input.parsed.positionals[0])}`);
    const underway = await input.connect();
    const workers = await underway.ops.workers();
    if (input.json) input.printJson(workers);
    else if (workers.length === 0) input.out("no live workers\n");
    else
      input.out(
        table(
          ["HOST", "PID", "QUEUES", "STARTED", "HEARTBEAT", "ID"],
          workers.map((worker) => [
            worker.host,
            String(worker.pid),
            worker.queues.map(({ queue, concurrency }) => `${queue}×${concurrency}`).join(", "),
            formatDate(worker.startedAt),
            `${formatAge(worker.heartbeatAgeSeconds)} ago`,
            worker.id,
          ]),
        ),
      );
    return exitCode.ok;
  },
};
