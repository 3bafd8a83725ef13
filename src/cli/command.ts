import type { PendingMigration } from "../migrate.ts";
import type { Underway } from "../underway.ts";
import type { OptionSpecs, Parsed } from "./args.ts";

/** Exit statuses: documented in docs/operations.md, relied on by scripts. */
export const exitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  /** A dry run found something it would change; `check` found tasks whose input would fail to decode. */
  wouldChange: 3,
} as const;

/** Where a command writes: results to `out` (stdout), notes to `err` (stderr). */
export interface Output {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** What a command runs with. */
export interface CommandInput extends Output {
  readonly parsed: Parsed;
  readonly json: boolean;
  readonly schema: string;
  /** The connection string (`--url` or `DATABASE_URL`); a usage error when neither is set. */
  readonly url: () => string;
  /**
   * A client on a migrated schema (`migrate: false`: a CLI never migrates
   * implicitly); closed by the caller once the command is done.
   */
  readonly connect: () => Promise<Underway>;
  /** A client whether or not the schema is migrated, and what is pending (for `migrate`). */
  readonly open: () => Promise<{
    readonly underway: Underway;
    readonly pending: ReadonlyArray<PendingMigration>;
  }>;
  /** Prints `value` as JSON (`--json`). */
  readonly printJson: (value: unknown) => void;
}

/** One command (or a group's subcommand) of the `underway` CLI. */
export interface Command {
  /** As typed: `"queues"`, `"tasks list"`. */
  readonly name: string;
  /** One line, for the tool's help. */
  readonly summary: string;
  /** Positional arguments, as shown in the usage line (`<queue>...`). */
  readonly args?: string;
  readonly description?: string;
  readonly options: OptionSpecs;
  readonly examples?: ReadonlyArray<string>;
  /** Resolves to the exit status. */
  readonly run: (input: CommandInput) => Promise<number>;
}

/** An expected failure (unreachable database, unmigrated schema): its message is printed, no stack. */
export class CliError extends Error {
  override readonly name = "CliError";
}
