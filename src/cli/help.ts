import { globalOptions, type OptionSpecs } from "./args.ts";
import type { Command } from "./command.ts";

const optionLines = (options: OptionSpecs): string[] => {
  const entries = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short === undefined ? "    " : `-${spec.short}, `}--${name}${spec.value === undefined ? "" : ` ${spec.value}`}`;
    return [flag, spec.description + (spec.multiple === true ? " (repeatable)" : "")] as const;
  });
  const width = Math.max(0, ...entries.map(([flag]) => flag.length));
  return entries.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`);
};

/** `underway <command> --help`. */
export const commandHelp = (command: Command): string =>
  [
    `Usage: underway ${command.name}${command.args === undefined ? "" : ` ${command.args}`} [options]`,
    "",
    command.summary,
    ...(command.description === undefined ? [] : ["", command.description]),
    ...(Object.keys(command.options).length === 0 ? [] : ["", "Options:", ...optionLines(command.options)]),
    "",
    "Global options:",
    ...optionLines(globalOptions),
    ...(command.examples === undefined || command.examples.length === 0
      ? []
      : ["", "Examples:", ...command.examples.map((example) => `  ${example}`)]),
    "",
  ].join("\n");

/** `underway --help`, or the help of a group (`underway tasks --help`). */
export const toolHelp = (commands: ReadonlyArray<Command>, group?: string): string => {
  const shown = group === undefined ? commands : commands.filter((c) => c.name.startsWith(`${group} `));
  const width = Math.max(...shown.map((command) => command.name.length));
  return [
    group === undefined
      ? "Usage: underway <command> [options]"
      : `Usage: underway ${group} <${shown.map((c) => c.name.slice(group.length + 1)).join("|")}> [options]`,
    "",
    ...(group === undefined ? ["Inspect and operate underway task queues on PostgreSQL.", ""] : []),
    "Commands:",
    ...shown.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    "",
    "Global options:",
    ...optionLines({ ...globalOptions, version: { type: "boolean", description: "print the version" } }),
    "",
    "Exit status: 0 ok, 1 error, 2 usage error, 3 a dry run found something to change.",
    `Run 'underway <command> --help' for a command's options.`,
    "",
  ].join("\n");
};
