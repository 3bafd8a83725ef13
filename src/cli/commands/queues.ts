import type { Count, QueueStats } from "../../ops/types.ts";
import { UsageError } from "../args.ts";
import { exitCode, type Command } from "../command.ts";
import { formatAge, formatDate, table } from "../table.ts";

// A planner estimate is marked, so nobody mistakes it for an exact count.
const count = ({ count, approximate }: Count): string => `${approximate ? "~" : ""}${count}`;

const rows = (queues: ReadonlyArray<QueueStats>): string[][] =>
  queues.map((queue) => [
    queue.queue,
    queue.pausedAt === null ? "active" : `paused ${formatDate(queue.pausedAt)}`,
    count(queue.counts.pending),
    count(queue.counts.in_progress),
    count(queue.counts.succeeded),
    count(queue.counts.failed),
    count(queue.counts.cancelled),
    formatAge(queue.oldestPendingAgeSeconds),
    queue.dlq ?? "-",
  ]);

/** `underway queues`: every queue at a glance. */
export const queuesCommand: Command = {
  name: "queues",
  summary: "every queue: tasks per state, pause, oldest due task",
  description:
    "Counts are exact up to 1,000 per state; above that they are planner estimates, shown as ~N\n" +
    '(and "approximate": true in --json), so this stays fast on tables of any size.',
  options: {},
  examples: ["underway queues", "underway queues --json | jq '.[] | select(.counts.failed.count > 0)'"],
  run: async (input) => {
    if (input.parsed.positionals.length > 0)
      throw new UsageError(`unexpected argument ${JSON.stringify(input.parsed.positionals[0])}`);
    const underway = await input.connect();
    const queues = await underway.ops.queues();
    if (input.json) input.printJson(queues);
    else if (queues.length === 0) input.out("no queues yet\n");
    else
      input.out(
        table(
          ["QUEUE", "STATUS", "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "OLDEST DUE", "DLQ"],
          rows(queues),
        ),
      );
    return exitCode.ok;
  },
};
