import type { InputCheck } from "../../ops/types.ts";
import { integerOf, UsageError } from "../args.ts";
import { exitCode, type Command } from "../command.ts";
import { definitionsOfModule } from "../moduleDefinitions.ts";
import { table, truncate } from "../table.ts";

const count = (n: number): string => n.toLocaleString("en-US");

const report = (check: InputCheck, listed: number): string => {
  const queues = check.queues.join(", ");
  const skipped =
    check.skipped === 0
      ? ""
      : ` (${count(check.skipped)} later step(s) of multi-step jobs not decoded: no schema)`;
  if (check.failed === 0)
    return `ok: the input of each of ${count(check.checked)} pending and running task(s) of ${queues} decodes${skipped}\n`;
  const more = check.failed - check.failures.length;
  return (
    `${count(check.failed)} of ${count(check.checked)} pending and running task(s) of ${queues} would fail to decode${skipped}:\n` +
    table(
      ["ID", "QUEUE", "STATE", "STEP", "ERROR"],
      check.failures.map((failure) => [
        failure.id,
        failure.queue,
        failure.state,
        failure.stepIndex === null ? "-" : String(failure.stepIndex),
        truncate(failure.error, 160),
      ]),
    ) +
    (more > 0 ? `… and ${count(more)} more (--limit ${Math.min(100_000, listed * 10)} lists more)\n` : "")
  );
};

/** `underway check <module>`: would today's schemas decode every pending and running task's input? */
export const checkCommand: Command = {
  name: "check",
  summary:
    "deploy check: decode every pending and running task of a module's job definitions; exit 3 if any fails",
  args: "<module>",
  description:
    "Imports <module> (a .js, .mjs or .cjs file; TypeScript when node can load it: node 22.18 or later,\n" +
    'or NODE_OPTIONS="--import tsx"), takes the job definitions it exports (named and default exports),\n' +
    "and decodes the stored input of every pending and running task of their queues with their input\n" +
    "schemas as they are now. Lists the tasks that would fail. Reads in pages and locks nothing.\n" +
    "Exit status: 0 every input decodes; 3 some would fail; 2 the module cannot be loaded or exports\n" +
    "no definition (or a usage error); 1 the database cannot be used.",
  options: {
    limit: {
      type: "string",
      value: "<n>",
      description: "failing tasks to list, 0 to 100000 (default 20; all are counted)",
    },
  },
  examples: [
    "underway check dist/jobs.js",
    "underway check dist/jobs.js --json | jq .failed",
    'NODE_OPTIONS="--import tsx" underway check src/jobs.ts',
  ],
  run: async (input) => {
    const [path, ...extra] = input.parsed.positionals;
    if (path === undefined) throw new UsageError("name the module: underway check <module>");
    if (extra.length > 0)
      throw new UsageError(`one module at a time, got ${input.parsed.positionals.length}`);
    const listed = integerOf(input.parsed, "limit", { min: 0, max: 100_000 }) ?? 20;
    // Loaded before connecting: a wrong path fails at once, without a database.
    const exported = await definitionsOfModule(path, process.cwd());
    const underway = await input.connect();
    const check = await underway.ops.checkInputs(
      exported.map((entry) => entry.definition),
      { maxFailures: listed },
    );
    if (input.json)
      input.printJson({
        ...check,
        definitions: exported.map((entry) => ({ export: entry.name, queue: entry.definition.queue })),
      });
    else input.out(report(check, Math.max(listed, 1)));
    return check.failed > 0 ? exitCode.wouldChange : exitCode.ok;
  },
};
