import type { Command } from "./command.ts";
import { dashboardCommand } from "./commands/dashboard.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { pauseCommand, resumeCommand } from "./commands/pause.ts";

/** Every command, in the order the tool's help lists them. */
export const commands: ReadonlyArray<Command> = [
  migrateCommand,
  pauseCommand,
  resumeCommand,
  dashboardCommand,
];
