import type { Command } from "./command.ts";
import { batchesShowCommand } from "./commands/batches.ts";
import { checkCommand } from "./commands/check.ts";
import { cancelCommand, deleteCommand, redriveCommand, retryCommand } from "./commands/bulk.ts";
import { dashboardCommand } from "./commands/dashboard.ts";
import { groupsCommand, groupWeightCommand } from "./commands/groups.ts";
import { queuesMaxPendingCommand } from "./commands/maxPending.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { pauseCommand, resumeCommand } from "./commands/pause.ts";
import { queuesCommand } from "./commands/queues.ts";
import { queuesRateLimitCommand } from "./commands/rateLimit.ts";
import { schedulesCommand } from "./commands/schedules.ts";
import { tasksListCommand, tasksLogsCommand, tasksShowCommand, tasksWhyCommand } from "./commands/tasks.ts";
import { workersCommand } from "./commands/workers.ts";

/** Every command, in the order the tool's help lists them. */
export const commands: ReadonlyArray<Command> = [
  migrateCommand,
  queuesCommand,
  queuesRateLimitCommand,
  queuesMaxPendingCommand,
  tasksListCommand,
  tasksShowCommand,
  tasksWhyCommand,
  batchesShowCommand,
  tasksLogsCommand,
  retryCommand,
  cancelCommand,
  deleteCommand,
  redriveCommand,
  pauseCommand,
  resumeCommand,
  groupsCommand,
  groupWeightCommand,
  schedulesCommand,
  workersCommand,
  checkCommand,
  dashboardCommand,
];
