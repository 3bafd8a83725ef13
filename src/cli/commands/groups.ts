import { maxGroupWeight } from "../../ops/groups.ts";
import type { GroupStats } from "../../ops/types.ts";
import { integerOf, UsageError } from "../args.ts";
import { exitCode, type Command } from "../command.ts";
import { printable, table } from "../table.ts";

const rows = (groups: ReadonlyArray<GroupStats>): string[][] =>
  groups.map((group) => [
    printable(group.group),
    `${group.pending.approximate ? ">" : ""}${group.pending.approximate ? group.pending.count - 1 : group.pending.count}`,
    String(group.running),
    group.weightSet ? String(group.weight) : `${group.weight} (default)`,
    group.lastTurn ? "last turn" : "",
  ]);

/** `underway groups <queue>`: a queue's groups (tenants) and their turns. */
export const groupsCommand: Command = {
  name: "groups",
  summary: "a queue's groups (fair tenants): pending and running tasks, weights",
  args: "<queue>",
  description:
    "Tasks enqueued with a `group` take turns with the other groups' at each claim: each group its\n" +
    "weight in tasks per turn, the next claim starting after the group marked LAST TURN. Lists the\n" +
    "groups with pending or running tasks or a weight set, in key order. PENDING is exact up to\n" +
    "1,000 (>1000 above). Tasks without a group are not listed (see `underway queues`).",
  options: {
    limit: { type: "string", value: "<n>", description: "groups listed, 1 to 1000 (default 100)" },
  },
  examples: ["underway groups reports", "underway groups reports --json | jq '.[] | select(.running > 0)'"],
  run: async (input) => {
    const [queue, ...extra] = input.parsed.positionals;
    if (queue === undefined) throw new UsageError("name the queue: underway groups <queue>");
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const limit = integerOf(input.parsed, "limit", { min: 1, max: 1000 });
    const underway = await input.connect();
    const groups = await underway.ops.groups(queue, limit === undefined ? {} : { limit });
    if (input.json) input.printJson(groups);
    else if (groups.length === 0) input.out(`queue ${queue} has no groups\n`);
    else input.out(table(["GROUP", "PENDING", "RUNNING", "WEIGHT", "TURN"], rows(groups)));
    return exitCode.ok;
  },
};

/** `underway group-weight <queue> <group> <weight>`: tasks per turn, in every process. */
export const groupWeightCommand: Command = {
  name: "group-weight",
  summary: "set a group's weight: how many tasks it takes per turn (default 1)",
  args: "<queue> <group> <weight|default>",
  description:
    "A group of weight 3 takes three tasks per turn where one of weight 1 takes one. Every process\n" +
    "reads it at its next claim. `default` puts the group back to weight 1.",
  options: {},
  examples: ["underway group-weight reports acme 3", "underway group-weight reports acme default"],
  run: async (input) => {
    const [queue, group, weight, ...extra] = input.parsed.positionals;
    if (queue === undefined || group === undefined || weight === undefined)
      throw new UsageError(
        "give the queue, the group and the weight: underway group-weight <queue> <group> <weight>",
      );
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const value = weight === "default" ? null : /^\d+$/.test(weight) ? Number(weight) : Number.NaN;
    // Checked here too: the API's range error offers `null`, a word this command does not take.
    if (value !== null && !(value >= 1 && value <= maxGroupWeight))
      throw new UsageError(
        `the weight must be an integer from 1 to ${maxGroupWeight} or default, got ${JSON.stringify(weight)}`,
      );
    const underway = await input.connect();
    await underway.ops.setGroupWeight(queue, group, value);
    if (input.json) input.printJson({ queue, group, weight: value ?? 1, weightSet: value !== null });
    else
      input.out(`group ${printable(group)} of ${queue}: weight ${value === null ? "1 (default)" : value}\n`);
    return exitCode.ok;
  },
};
