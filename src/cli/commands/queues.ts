import type { Count, QueueStats } from "../../ops/types.ts";
import { UsageError } from "../args.ts";
import { exitCode, type Command } from "../command.ts";
import { formatPeriod } from "../../ops/ratePeriod.ts";
import { formatAge, formatDate, table } from "../table.ts";

// A planner estimate is marked, so nobody mistakes it for an exact count.
const count = ({ count, approximate }: Count): string => `${approximate ? "~" : ""}${count}`;

const rows = (queues: ReadonlyArray<QueueStats>): string[][] =>
  queues.map((queue) => [
    queue.queue,
    queue.pausedAt === null ? "active" : `paused ${formatDate(queue.pausedAt)}`,
    queue.rateLimit === null ? "-" : `${queue.rateLimit.limit}/${formatPeriod(queue.rateLimit.periodMs)}`,
    count(queue.pending.due),
    count(queue.pending.delayed),
    count(queue.pending.retrying),
    count(queue.counts.in_progress),
    count(queue.counts.succeeded),
    count(queue.counts.failed),
    queue.dlq === null ? "-" : count(queue.deadLettered),
    count(queue.counts.cancelled),
    queue.oldestPendingAgeSeconds === null && queue.nextDueAt !== null
      ? `next ${formatDate(queue.nextDueAt)}`
      : formatAge(queue.oldestPendingAgeSeconds),
    queue.dlq ?? "-",
  ]);

/** `underway queues`: every queue at a glance. */
export const queuesCommand: Command = {
  name: "queues",
  summary: "every queue: tasks per state, pause, rate limit, oldest due task",
  description:
    "Pending tasks are split into DUE (claimed next), DELAYED (not due yet) and RETRYING (waiting\n" +
    "out a backoff); DEAD-LETTERED counts this queue's tasks in its DLQ. With nothing due, OLDEST\n" +
    "DUE says when the next task falls due. RATE LIMIT is the one in force (starts per period;\n" +
    "`underway queues rate-limit <queue>` shows and changes it).\n" +
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
          [
            "QUEUE",
            "STATUS",
            "RATE LIMIT",
            "DUE",
            "DELAYED",
            "RETRYING",
            "RUNNING",
            "SUCCEEDED",
            "FAILED",
            "DEAD-LETTERED",
            "CANCELLED",
            "OLDEST DUE",
            "DLQ",
          ],
          rows(queues),
        ),
      );
    return exitCode.ok;
  },
};
