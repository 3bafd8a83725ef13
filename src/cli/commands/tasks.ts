import { unknownEstimateText } from "../../ops/explain.ts";
import type { AttemptLog, TaskDetail, TaskSummary } from "../../ops/types.ts";
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
  (task.progress === null
    ? ""
    : `progress (attempt ${task.progress.attempt}, ${formatDate(task.progress.updatedAt)}):\n${json(task.progress.value)}\n`) +
  `history:\n${task.history.length === 0 ? "  (no attempts yet)" : historyLines(task.history).join("\n")}\n`;

// The last lines of each attempt's log, for `tasks show`; `tasks logs` prints them all.
const shownLogLines = 20;

const logLines = (logs: ReadonlyArray<AttemptLog>, last: number | undefined): string =>
  logs
    .map(({ attempt, cut, lines }) => {
      const shown = last === undefined ? lines : lines.slice(-last);
      const hidden = lines.length - shown.length;
      return (
        `  attempt ${attempt}` +
        (cut === 0 ? "" : ` (${cut} older lines cut)`) +
        (hidden === 0 ? "" : ` (${hidden} more: underway tasks logs <id>)`) +
        "\n" +
        shown.map((line) => `    ${formatDate(line.at)}  ${printable(line.message)}\n`).join("")
      );
    })
    .join("");

/** The one task id a `tasks show`/`tasks why`/`tasks logs` names, checked. */
const oneTaskId = (positionals: ReadonlyArray<string>, verb: string): string => {
  const [id, ...extra] = positionals;
  if (id === undefined) throw new UsageError(`name the task: underway tasks ${verb} <id>`);
  if (extra.length > 0) throw new UsageError(`one task id at a time, got ${positionals.length}`);
  return checkTaskId(id);
};

/** `underway tasks show <id>`: one task in full. */
export const tasksShowCommand: Command = {
  name: "tasks show",
  summary:
    "one task in full: input, output, progress, options, lease, attempts with errors and stacks, last log lines",
  args: "<id>",
  options: {},
  examples: ["underway tasks show 1234", "underway tasks show 1234 --json | jq .input"],
  run: async (input) => {
    const id = oneTaskId(input.parsed.positionals, "show");
    const underway = await input.connect();
    const task = await underway.ops.task(id);
    if (task === undefined) throw new CliError(`no task ${id} in schema ${input.schema}`);
    if (input.json) input.printJson(task);
    else {
      const logs = task.logLines === 0 ? [] : await underway.ops.taskLogs(id);
      input.out(detail(task) + (logs.length === 0 ? "" : `logs:\n${logLines(logs, shownLogLines)}`));
    }
    return exitCode.ok;
  },
};

/** `underway tasks logs <id>`: a task's log lines (`ctx.log`), by attempt. */
export const tasksLogsCommand: Command = {
  name: "tasks logs",
  summary: "a task's log lines (ctx.log in its handler), by attempt, with the count of older lines cut",
  args: "<id>",
  options: {
    attempt: {
      type: "string",
      value: "<n>",
      description: "only this attempt's lines (default: every attempt)",
    },
  },
  examples: ["underway tasks logs 1234", "underway tasks logs 1234 --attempt 2 --json"],
  run: async (input) => {
    const id = oneTaskId(input.parsed.positionals, "logs");
    const attempt = integerOf(input.parsed, "attempt", { min: 1, max: 2_147_483_647 });
    const underway = await input.connect();
    const logs = await underway.ops.taskLogs(id, attempt === undefined ? {} : { attempt });
    if (input.json) input.printJson(logs);
    else if (logs.length === 0) {
      if ((await underway.ops.task(id)) === undefined)
        throw new CliError(`no task ${id} in schema ${input.schema}`);
      input.out("no log lines\n");
    } else input.out(logLines(logs, undefined));
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
