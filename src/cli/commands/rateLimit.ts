import type { RateLimitInfo } from "../../ops/types.ts";
import { formatPeriod, formatRateLimit, periodMsOf } from "../../ops/ratePeriod.ts";
import { flagOf, integerOf, stringOf, UsageError } from "../args.ts";
import { exitCode, type Command } from "../command.ts";
import { fields, formatDate, printable } from "../table.ts";

const sourceText = (info: RateLimitInfo): string =>
  info.source === "operator"
    ? `an operator's setting, since ${formatDate(info.setAt)} (overrides the definition's until --clear)`
    : info.source === "definition"
      ? "the definition"
      : "none set";

const detail = (info: RateLimitInfo): string =>
  fields([
    ["queue", info.queue],
    ["rate limit", formatRateLimit(info.rateLimit)],
    ["from", sourceText(info)],
    ["definition's", formatRateLimit(info.defined)],
    ...(info.rateLimit === null
      ? []
      : ([
          [
            "own budget",
            `${info.used} of ${info.rateLimit.limit} started in the last ${formatPeriod(info.rateLimit.periodMs)}` +
              (info.nextStartAt === null ? "" : `; spent, next start ${formatDate(info.nextStartAt)}`),
          ],
          ["keyed budgets", `${info.activeKeys} used in the last ${formatPeriod(info.rateLimit.periodMs)}`],
          ...info.keys.map(
            (use) =>
              [
                `  ${printable(use.key)}`,
                `${use.used} started` +
                  (use.nextStartAt === null ? "" : `; spent, next start ${formatDate(use.nextStartAt)}`),
              ] as const,
          ),
        ] as const)),
  ]);

/** `underway queues rate-limit <queue>`: show, set, turn off or clear a queue's rate limit. */
export const queuesRateLimitCommand: Command = {
  name: "queues rate-limit",
  summary: "show or change a queue's rate limit (attempts started per period, across every process)",
  args: "<queue>",
  description:
    "Without options: the limit in force, where it comes from, and its budgets' use now.\n" +
    '--limit with --period stores an operator\'s setting, and --off stores "no limit": either overrides\n' +
    "the definition's rateLimit, in every process and across restarts, until --clear. Workers wake at\n" +
    "once and apply it from their next claim. See docs/flow-control.md.",
  options: {
    limit: {
      type: "string",
      value: "<n>",
      description: "attempts allowed to start per period (with --period)",
    },
    period: {
      type: "string",
      value: "<time>",
      description: "the window: 500ms, 1s, 10m, 1h, 1d, or milliseconds (with --limit)",
    },
    off: { type: "boolean", description: "no limit, whatever the definition sets (an operator's setting)" },
    clear: { type: "boolean", description: "drop the operator's setting: the definition's applies again" },
  },
  examples: [
    "underway queues rate-limit email",
    "underway queues rate-limit email --limit 100 --period 1s",
    "underway queues rate-limit email --off",
    "underway queues rate-limit email --clear --json",
  ],
  run: async (input) => {
    const [queue, ...extra] = input.parsed.positionals;
    if (queue === undefined) throw new UsageError("name the queue: underway queues rate-limit <queue>");
    if (extra.length > 0) throw new UsageError(`one queue at a time, got ${input.parsed.positionals.length}`);
    const limit = integerOf(input.parsed, "limit", { min: 1, max: 2_147_483_647 });
    const periodText = stringOf(input.parsed, "period");
    const periodMs = periodText === undefined ? undefined : periodMsOf(periodText);
    if (periodText !== undefined && periodMs === undefined)
      throw new UsageError(
        `--period must be a duration from 1ms to about 24 days (500ms, 1s, 10m, 1h, 1d), got ${JSON.stringify(periodText)}`,
      );
    const off = flagOf(input.parsed, "off");
    const clear = flagOf(input.parsed, "clear");
    const setting = limit !== undefined || periodMs !== undefined;
    if ([setting, off, clear].filter(Boolean).length > 1)
      throw new UsageError("give --limit with --period, or --off, or --clear: one of them");
    if (setting && (limit === undefined || periodMs === undefined))
      throw new UsageError(
        `${limit === undefined ? "--period needs --limit" : "--limit needs --period"} (e.g. --limit 100 --period 1s)`,
      );
    const underway = await input.connect();
    const info =
      limit !== undefined && periodMs !== undefined
        ? await underway.ops.setRateLimit(queue, { limit, periodMs })
        : off
          ? await underway.ops.setRateLimit(queue, null)
          : clear
            ? await underway.ops.clearRateLimit(queue)
            : await underway.ops.rateLimit(queue);
    if (input.json) input.printJson(info);
    else input.out(detail(info));
    return exitCode.ok;
  },
};
