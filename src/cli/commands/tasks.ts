import { unknownEstimateText } from "../../ops/explain.ts";
import type { TaskDetail, TaskSummary } from "../../ops/types.ts";
import type { HistoryEntry } from "../../history.ts";
import { checkTaskId } from "../../identifier.ts";
import { integerOf, stringOf, UsageError } from "../args.ts";
import { exitCode, type Command } from "../command.ts";
import { CliError } from "../command.ts";
import { filterOf, filterOptions } from "../filters.ts";
import { fields, formatDate, printable, table, truncate } from "../table.ts";

const summaryRows = (tasks: ReadonlyArray<TaskSummary>): string[][] =>
  tasks.map((task) => [
    task.id,
    task.queue,
    task.state,
    `${task.attempt}/${task.maxAttempts}`,
    formatDate(task.createdAt),
    formatDate(task.state === "pending" ? task.runAt : (task.finishedAt ?? task.startedAt)),
    truncate(task.error, 50),
  ]);

/** `underway tasks list`: one keyset page of tasks. */
export const tasksListCommand: Command = {
  name: "tasks list",
  summary: "list tasks by queue, state, time, id, job, key, error text or input",
  description:
    "Newest first, one page at a time: the last line gives the --cursor for the next page.\n" +
    "Filters combine (all must hold); repeated or comma-separated values match any of them.",
  options: {
    ...filterOptions,
    limit: { type: "string", value: "<n>", description: "tasks per page, 1 to 1000 (default 50)" },
    cursor: {
      type: "string",
      value: "<cursor>",
      description: "the next-page cursor printed by the previous page",
    },
    oldest: { type: "boolean", description: "oldest first" },
  },
  examples: [
    "underway tasks list --queue email --state failed",
    "underway tasks list --error timeout --after 2h --limit 100",
    `underway tasks list --input '{"userId":42}' --json`,
  ],
  run: async (input) => {
    if (input.parsed.positionals.length > 0)
      throw new UsageError(
        `unexpected argument ${JSON.stringify(input.parsed.positionals[0])} (filters are flags)`,
      );
    const filter = filterOf(input.parsed);
    const limit = integerOf(input.parsed, "limit", { min: 1, max: 1000 });
    const cursor = stringOf(input.parsed, "cursor");
    const underway = await input.connect();
    const page = await underway.ops.tasks(filter, {
      ...(limit === undefined ? {} : { limit }),
      ...(cursor === undefined ? {} : { after: cursor }),
      order: input.parsed.values["oldest"] === true ? "oldest" : "newest",
    });
    if (input.json) {
      input.printJson(page);
      return exitCode.ok;
    }
    if (page.tasks.length === 0)
      input.out(page.searched === undefined ? "no tasks match\n" : "no tasks match so far\n");
    else
      input.out(
        table(["ID", "QUEUE", "STATE", "ATTEMPT", "CREATED", "RUN/ENDED", "ERROR"], summaryRows(page.tasks)),
      );
    // A bounded search may stop with few or no tasks: say so, or an empty
    // page would read as "none match".
    if (page.searched !== undefined)
      input.out(
        `searched ${page.searched.toLocaleString("en-US")} tasks without filling the page; more may match\n`,
      );
    if (page.next !== null) input.out(`next page: --cursor ${page.next}\n`);
    return exitCode.ok;
  },
};

const json = (value: unknown): string => JSON.stringify(value, null, 2) ?? "null";

const historyLines = (history: ReadonlyArray<HistoryEntry>): string[] =>
  history.flatMap((entry) =>
    entry._tag === "attempt"
      ? [
          `  #${entry.attempt} ${entry.state}  ${formatDate(entry.startedAt)} -> ${formatDate(entry.finishedAt)}` +
            (entry.error === null ? "" : `  ${entry.errorName ?? "Error"}: ${truncate(entry.error, 200)}`),
          ...(entry.errorStack === null
            ? []
            : entry.errorStack
                .split("\n")
                .slice(1, 6)
                .map((line) => `      ${line.trim()}`)),
        ]
      : [
          // A snooze ends its attempt without spending it: the same number runs again.
          `  ${entry.kind} ${entry.kind === "snoozed" ? "in" : "after"} attempt ${entry.attempt}  ${formatDate(entry.at)}  ${JSON.stringify(entry.details)}`,
        ],
  );

const detail = (task: TaskDetail): string =>
  fields([
    ["id", task.id],
    ["queue", task.queue + (task.dlqFrom === null ? "" : ` (dead-lettered from ${task.dlqFrom})`)],
    [
      "state",
      task.state +
        (task.cancelRequestedAt === null ? "" : ` (cancel requested ${formatDate(task.cancelRequestedAt)})`),
    ],
    ["attempt", `${task.attempt} of ${task.maxAttempts}`],
    ["priority", String(task.priority)],
    ["job", task.jobId === null ? "-" : `${task.jobId} step ${task.stepIndex ?? "?"}`],
    ["concurrency key", task.concurrencyKey === null ? "-" : printable(task.concurrencyKey)],
    ["group", task.group === null ? "-" : printable(task.group)],
    ["created", formatDate(task.createdAt)],
    ["run at", formatDate(task.runAt)],
    ["started", formatDate(task.startedAt)],
    ["finished", formatDate(task.finishedAt)],
    ["lease", task.lease === null ? "-" : `${task.lease.workerId} until ${formatDate(task.lease.expiresAt)}`],
    ["error", task.error ?? "-"],
    [
      "options",
      `timeout ${task.options.timeoutMs} ms, retry ${task.options.retryInitialMs}..${task.options.retryMaxMs} ms ` +
        `x${task.options.retryCoefficient} jitter ${task.options.retryJitter}, ttl ${task.options.ttlMs} ms` +
        (task.options.uniqueKey === null ? "" : `, unique key ${printable(task.options.uniqueKey)}`) +
        (task.options.rateLimitKey === null
          ? ""
          : `, rate limit key ${printable(task.options.rateLimitKey)}`),
    ],
  ]) +
  `input:\n${json(task.input)}\n` +
  (task.output === null ? "" : `output:\n${json(task.output)}\n`) +
  `history:\n${task.history.length === 0 ? "  (no attempts yet)" : historyLines(task.history).join("\n")}\n`;

/** The one task id a `tasks show`/`tasks why` names, checked. */
const oneTaskId = (positionals: ReadonlyArray<string>, verb: string): string => {
  const [id, ...extra] = positionals;
  if (id === undefined) throw new UsageError(`name the task: underway tasks ${verb} <id>`);
  if (extra.length > 0) throw new UsageError(`one task id at a time, got ${positionals.length}`);
  return checkTaskId(id);
};

/** `underway tasks show <id>`: one task in full. */
export const tasksShowCommand: Command = {
  name: "tasks show",
  summary: "one task in full: input, output, options, lease, attempts with errors and stacks",
  args: "<id>",
  options: {},
  examples: ["underway tasks show 1234", "underway tasks show 1234 --json | jq .input"],
  run: async (input) => {
    const id = oneTaskId(input.parsed.positionals, "show");
    const underway = await input.connect();
    const task = await underway.ops.task(id);
    if (task === undefined) throw new CliError(`no task ${id} in schema ${input.schema}`);
    if (input.json) input.printJson(task);
    else input.out(detail(task));
    return exitCode.ok;
  },
};

/** `underway tasks why <id>`: why a task is not running, and when it may (ops.explain). */
export const tasksWhyCommand: Command = {
  name: "tasks why",
  summary:
    "why a task is not running and when it may: due time, backoff, pause, full key, rate budget, group turn, queue, workers",
  args: "<id>",
  options: {},
  examples: ["underway tasks why 1234", "underway tasks why 1234 --json"],
  run: async (input) => {
    const id = oneTaskId(input.parsed.positionals, "why");
    const underway = await input.connect();
    const why = await underway.ops.explain(id);
    if (why === undefined) throw new CliError(`no task ${id} in schema ${input.schema}`);
    if (input.json) {
      input.printJson(why);
      return exitCode.ok;
    }
    input.out(
      `task ${why.id} (${why.queue}) is ${why.state}: ${why.summary}\n` +
        why.reasons.map((reason) => `  - ${reason.kind}: ${reason.message}\n`).join("") +
        (why.state === "pending"
          ? `estimated start: ${why.estimatedStartAt === null ? `unknown (${unknownEstimateText(why)})` : formatDate(why.estimatedStartAt)}\n`
          : ""),
    );
    return exitCode.ok;
  },
};
