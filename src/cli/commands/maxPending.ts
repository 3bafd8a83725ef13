import type { MaxPendingInfo } from "../../ops/types.ts";
import { flagOf, integerOf, UsageError } from "../args.ts";
import { exitCode, type Command } from "../command.ts";
import { fields, formatDate } from "../table.ts";

const detail = (info: MaxPendingInfo): string =>
  fields([
    ["queue", info.queue],
    [
      "cap",
      info.source === "operator"
        ? `${info.maxPending === null ? "none" : `${info.maxPending} pending`}: an operator's setting, since ` +
          `${formatDate(info.setAt)} (wins over the definition's maxPending until --clear)`
        : info.counted === false
          ? "none: the queue's last registered definition has no maxPending"
          : "the definition's maxPending, if it has one (no operator's setting stored)",
    ],
    [
      "counted",
      info.counted === null
        ? "not known yet: no definition of the queue registered (by an enqueue, a worker or declare)"
        : info.counted
          ? "yes: enqueues count pending tasks against the cap in force"
          : "no: enqueues do not count pending tasks, and --set is refused until the definition has a maxPending",
    ],
  ]);

/** `underway queues max-pending <queue>`: show, set, lift or clear an operator's cap on a queue's pending tasks. */
export const queuesMaxPendingCommand: Command = {
  name: "queues max-pending",
  summary: "show or change a queue's cap on pending tasks (maxPending: enqueues past it are refused)",
  args: "<queue>",
  description:
    "Without options: the operator's setting, if one is stored. --set stores an operator's cap and --off\n" +
    'stores "no cap": either wins over the definition\'s maxPending, in every process and across restarts,\n' +
    "until --clear. --set is refused for a queue whose last registered definition has no maxPending\n" +
    "(its enqueues do not count). See docs/flow-control.md#caps.",
  options: {
    set: {
      type: "string",
      value: "<n>",
      description: "the cap: pending tasks allowed (an operator's setting)",
    },
    off: { type: "boolean", description: "no cap, whatever the definition sets (an operator's setting)" },
    clear: { type: "boolean", description: "drop the operator's setting: the definition's applies again" },
  },
  examples: [
    "underway queues max-pending thumbnails",
    "underway queues max-pending thumbnails --set 50000",
    "underway queues max-pending thumbnails --clear --json",
  ],
  run: async (input) => {
    const [queue, ...extra] = input.parsed.positionals;
    if (queue === undefined) throw new UsageError("name the queue: underway queues max-pending <queue>");
    if (extra.length > 0) throw new UsageError(`one queue at a time, got ${input.parsed.positionals.length}`);
    const cap = integerOf(input.parsed, "set", { min: 0, max: 2_147_483_647 });
    const off = flagOf(input.parsed, "off");
    const clear = flagOf(input.parsed, "clear");
    if ([cap !== undefined, off, clear].filter(Boolean).length > 1)
      throw new UsageError("give --set <n>, or --off, or --clear: one of them");
    const underway = await input.connect();
    const info =
      cap !== undefined
        ? await underway.ops.setMaxPending(queue, cap)
        : off
          ? await underway.ops.setMaxPending(queue, null)
          : clear
            ? await underway.ops.clearMaxPending(queue)
            : await underway.ops.maxPending(queue);
    if (input.json) input.printJson(info);
    else input.out(detail(info));
    return exitCode.ok;
  },
};
