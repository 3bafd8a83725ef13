import { CliError } from "../command.ts";
import type { Command } from "../command.ts";

/** `underway dashboard`: a placeholder until the web dashboard lands. */
export const dashboardCommand: Command = {
  name: "dashboard",
  summary: "serve the web dashboard (not available yet)",
  options: {},
  run: () => Promise.reject(new CliError("the dashboard is not available yet in this version of underway")),
};
