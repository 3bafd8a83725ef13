import type { BulkOptions, BulkResult, TaskFilter } from "../../ops/types.ts";
import type { Ops } from "../../ops/ops.ts";
import { checkQueueName } from "../../identifier.ts";
import { flagOf, integerOf, UsageError, type OptionSpecs } from "../args.ts";
import { exitCode, type Command, type CommandInput } from "../command.ts";
import { filterOf, filterOptions, hasFilter } from "../filters.ts";

const bulkOptions: OptionSpecs = {
  ...filterOptions,
  yes: {
    type: "boolean",
    short: "y",
    description: "do it (without it: only count what would change, exit 3)",
  },
  "dry-run": { type: "boolean", description: "only count what would change (the default without --yes)" },
  limit: { type: "string", value: "<n>", description: "at most this many tasks, lowest id first" },
  "batch-size": { type: "string", value: "<n>", description: "tasks changed per transaction (default 1000)" },
};

interface Action {
  readonly verb: string; // "retry"
  readonly past: string; // "retried"
  readonly act: (
    ops: Ops,
    target: string | undefined,
    filter: TaskFilter,
    options: BulkOptions,
  ) => Promise<BulkResult>;
}

// A dry run unless --yes: the count comes first, and a script can tell
// "would change something" (3) from "nothing to do" (0).
const runBulk = async (
  input: CommandInput,
  action: Action,
  target: string | undefined,
  filter: TaskFilter,
): Promise<number> => {
  const yes = flagOf(input.parsed, "yes");
  if (yes && flagOf(input.parsed, "dry-run"))
    throw new UsageError("--yes and --dry-run contradict each other");
  const limit = integerOf(input.parsed, "limit", { min: 1, max: Number.MAX_SAFE_INTEGER });
  const batchSize = integerOf(input.parsed, "batch-size", { min: 1, max: 100_000 });
  const underway = await input.connect();
  const result = await action.act(underway.ops, target, filter, {
    dryRun: !yes,
    ...(limit === undefined ? {} : { limit }),
    ...(batchSize === undefined ? {} : { batchSize }),
  });
  if (input.json) input.printJson({ action: action.verb, ...result });
  else if (result.dryRun)
    input.out(
      result.matched === 0
        ? `nothing to ${action.verb}: no task matches\n`
        : `would ${action.verb} ${result.matched} task(s); run again with --yes to do it\n`,
    );
  else
    input.out(
      `${action.past} ${result.changed} of ${result.matched} matching task(s)` +
        (result.changed < result.matched ? " (the others were locked or changed meanwhile)" : "") +
        "\n",
    );
  return result.dryRun && result.matched > 0 ? exitCode.wouldChange : exitCode.ok;
};

const byFilter = (
  action: Action,
  summary: string,
  description: string,
  examples: ReadonlyArray<string>,
): Command => ({
  name: action.verb,
  summary,
  args: "[id...]",
  description:
    `${description}\nName the tasks with ids or filter flags, or --all for every task it applies to.\n` +
    "Without --yes it changes nothing: it prints how many tasks would change and exits 3 (0 if none).",
  options: {
    ...bulkOptions,
    all: { type: "boolean", description: "every task this applies to (no filter)" },
  },
  examples,
  run: async (input) => {
    const ids = input.parsed.positionals;
    const all = flagOf(input.parsed, "all");
    if (!all && !hasFilter(input.parsed, ids))
      throw new UsageError(
        `say which tasks to ${action.verb}: ids, filter flags (--queue, --state, …), or --all`,
      );
    return runBulk(input, action, undefined, filterOf(input.parsed, ids));
  },
});

/** `underway retry`: failed and cancelled tasks back to pending, with a fresh budget. */
export const retryCommand = byFilter(
  { verb: "retry", past: "retried", act: (ops, _, filter, options) => ops.retry(filter, options) },
  "failed or cancelled tasks back to pending now, with a fresh retry budget",
  "Matches failed and cancelled tasks only; a dead-lettered task goes back to the queue it came from.",
  ["underway retry 1234", "underway retry --queue email --state failed --error smtp --after 1h --yes"],
);

/** `underway cancel`: pending tasks cancelled, running ones asked to stop. */
export const cancelCommand = byFilter(
  { verb: "cancel", past: "cancelled", act: (ops, _, filter, options) => ops.cancel(filter, options) },
  "cancel pending tasks and ask running ones to stop",
  "Pending tasks are cancelled at once; running ones get their signal aborted and end cancelled.",
  ["underway cancel 1234 --yes", `underway cancel --queue report --input '{"region":"west"}'`],
);

/** `underway delete`: finished tasks (and their history) removed. */
export const deleteCommand = byFilter(
  { verb: "delete", past: "deleted", act: (ops, _, filter, options) => ops.delete(filter, options) },
  "delete finished tasks with their history (live ones only if --state names them)",
  "Deletes succeeded, failed and cancelled tasks; pending or in_progress ones only when --state names them.",
  ["underway delete --queue email --state succeeded --before 7d --yes", "underway delete --all"],
);

const redriveAction: Action = {
  verb: "redrive",
  past: "redriven",
  act: (ops, dlq, filter, options) => ops.redrive(dlq ?? "", filter, options),
};

/** `underway redrive <dlq>`: dead-lettered tasks back to the queues they came from. */
export const redriveCommand: Command = {
  name: "redrive",
  summary: "move dead-lettered tasks back to the queues they came from",
  args: "<dlq>",
  description:
    "Moves failed tasks of the dead-letter queue (all, or those the filter flags match) back to their\n" +
    "queues with a fresh budget. Without --yes it changes nothing: it prints the count and exits 3 (0 if none).",
  options: bulkOptions,
  examples: ["underway redrive email_dlq", "underway redrive email_dlq --error 'rate limit' --yes"],
  run: async (input) => {
    const [dlq, ...extra] = input.parsed.positionals;
    if (dlq === undefined) throw new UsageError("name the dead-letter queue: underway redrive <dlq>");
    if (extra.length > 0)
      throw new UsageError(`one dead-letter queue at a time, got ${input.parsed.positionals.length}`);
    if (input.parsed.values["queue"] !== undefined)
      throw new UsageError("redrive takes the dead-letter queue as its argument, not --queue");
    return runBulk(input, redriveAction, checkQueueName(dlq), filterOf(input.parsed));
  },
};
