import { integerOf, UsageError } from "../args.ts";
import { exitCode, type Command } from "../command.ts";
import { formatDate, table, truncate } from "../table.ts";

/** `underway schedules`: each schedule with its next runs. */
export const schedulesCommand: Command = {
  name: "schedules",
  summary: "every schedule with its next run times",
  options: { next: { type: "string", value: "<n>", description: "next runs to show, 0 to 100 (default 3)" } },
  examples: ["underway schedules", "underway schedules --next 10 --json"],
  run: async (input) => {
    if (input.parsed.positionals.length > 0)
      throw new UsageError(`unexpected argument ${JSON.stringify(input.parsed.positionals[0])}`);
    const nextRuns = integerOf(input.parsed, "next", { min: 0, max: 100 }) ?? 3;
    const underway = await input.connect();
    const schedules = await underway.ops.schedules({ nextRuns });
    if (input.json) input.printJson(schedules);
    else if (schedules.length === 0) input.out("no schedules\n");
    else
      input.out(
        table(
          ["QUEUE", "SCHEDULE", "ZONE", "NEXT RUNS (UTC)", "INPUT"],
          schedules.map((schedule) => [
            schedule.queue,
            schedule.expression,
            schedule.timeZone,
            schedule.error === null
              ? schedule.nextRuns.map(formatDate).join(", ") || "-"
              : `BROKEN: ${truncate(schedule.error, 100)}`,
            truncate(JSON.stringify(schedule.input), 40),
          ]),
        ),
      );
    return exitCode.ok;
  },
};
