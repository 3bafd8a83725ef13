import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { UnderwayError, ConfigError, ValidationError } from "../errors.ts";
import type { Underway } from "../underway.ts";
import { flagOf, globalOptions, parse, splitCommand, stringOf, UsageError } from "./args.ts";
import { CliError, exitCode, type Command, type CommandInput, type Output } from "./command.ts";
import { commands } from "./commands.ts";
import { redact, resolveUrl } from "./redact.ts";
import { commandHelp, toolHelp } from "./help.ts";

// package.json sits two folders up from src/cli/ (tsx) and three from
// dist/src/cli/ (the installed package).
const version = (): string => {
  for (const up of ["../../package.json", "../../../package.json"]) {
    const path = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(path)) return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
  }
  return "unknown";
};

const groups = new Set(commands.filter((c) => c.name.includes(" ")).map((c) => c.name.split(" ")[0] ?? ""));

/**
 * Runs the `underway` command line `argv` (without node and script), writing
 * to `io`; resolves to the exit status. Expected failures print one line
 * naming what was wrong; only unexpected ones print a stack.
 */
export const runCli = async (
  argv: ReadonlyArray<string>,
  io: Output,
  env: NodeJS.ProcessEnv,
): Promise<number> => {
  const { words, rest } = splitCommand(argv, (word) => groups.has(word));
  const wantsHelp = rest.includes("--help") || rest.includes("-h");
  const name = words.join(" ");
  const command = commands.find((candidate) => candidate.name === name);
  if (command === undefined) {
    if (words.length === 0 && rest.includes("--version")) {
      io.out(`${version()}\n`);
      return exitCode.ok;
    }
    if (words[0] === "help") {
      const topic = commands.find((candidate) => candidate.name === words.slice(1).join(" ")) ?? undefined;
      io.out(topic !== undefined ? commandHelp(topic) : toolHelp(commands));
      return exitCode.ok;
    }
    const group = groups.has(words[0] ?? "") ? words[0] : undefined;
    if (wantsHelp && (words.length === 0 || (group !== undefined && words.length === 1))) {
      io.out(toolHelp(commands, group));
      return exitCode.ok;
    }
    const problem =
      words.length === 0
        ? "no command given"
        : group !== undefined && words.length === 1
          ? `\`underway ${group}\` needs a subcommand`
          : `unknown command \`${name}\``;
    io.err(`underway: ${problem}\n\n${toolHelp(commands, group)}`);
    return exitCode.usage;
  }
  if (wantsHelp) {
    io.out(commandHelp(command));
    return exitCode.ok;
  }
  return runCommand(command, rest, io, env);
};

const runCommand = async (
  command: Command,
  tokens: ReadonlyArray<string>,
  io: Output,
  env: NodeJS.ProcessEnv,
): Promise<number> => {
  const clients: Underway[] = [];
  let url: string | undefined;
  let json = tokens.includes("--json");
  try {
    const parsed = parse(tokens, { ...globalOptions, ...command.options });
    json = flagOf(parsed, "json");
    const schema = stringOf(parsed, "schema") ?? "underway";
    const resolve = (): string => (url = resolveUrl(stringOf(parsed, "url"), env));
    const input: CommandInput = {
      ...io,
      parsed,
      json,
      schema,
      url: resolve,
      connect: async () => {
        const { connectMigrated } = await import("./connection.ts");
        const client = await connectMigrated(resolve(), schema);
        clients.push(client);
        return client;
      },
      open: async () => {
        const { openClient } = await import("./connection.ts");
        const opened = await openClient(resolve(), schema);
        clients.push(opened.underway);
        return opened;
      },
      printJson: (value) => io.out(`${JSON.stringify(value, null, 2)}\n`),
    };
    return await command.run(input);
  } catch (error) {
    // The URLs as typed too: an error before the URL was resolved (a bad
    // flag, an unparsable URL) may still echo part of one.
    const typed = tokens.flatMap((token, index) =>
      token === "--url" ? [tokens[index + 1] ?? ""] : token.startsWith("--url=") ? [token.slice(6)] : [],
    );
    return report(error, command, io, json, [url, env["DATABASE_URL"], ...typed]);
  } finally {
    // Closing ends the pool, so the process exits as soon as the output is written.
    await Promise.allSettled(clients.map((client) => client.close()));
  }
};

// Errors the user can act on: one line, no stack. ConfigError and
// ValidationError come from values typed on the command line (a schema or
// queue name, a task id), so they are usage errors too.
const report = (
  error: unknown,
  command: Command,
  io: Output,
  json: boolean,
  urls: ReadonlyArray<string | undefined>,
): number => {
  const usage =
    error instanceof UsageError || error instanceof ConfigError || error instanceof ValidationError;
  const expected = usage || error instanceof CliError || error instanceof UnderwayError;
  const message = redact(error instanceof Error ? error.message : String(error), ...urls);
  const status = usage ? exitCode.usage : exitCode.error;
  if (json) {
    const name = error instanceof Error ? error.name : "Error";
    io.err(`${JSON.stringify({ error: { name, message, exitCode: status } })}\n`);
  } else if (usage) {
    io.err(`underway ${command.name}: ${message}\nRun 'underway ${command.name} --help' for usage.\n`);
  } else {
    io.err(`underway ${command.name}: error: ${message}\n`);
  }
  if (!expected && error instanceof Error && error.stack !== undefined && !json)
    io.err(`${redact(error.stack, ...urls)}\n`);
  return status;
};
