import { serveDashboard } from "../../dashboard/serveDashboard.ts";
import { flagOf, listOf, stringOf, UsageError } from "../args.ts";
import { exitCode, type Command } from "../command.ts";

const defaultPort = 4000;

/**
 * `underway dashboard`: the web dashboard on its own server, bound to
 * 127.0.0.1 unless told otherwise, until SIGINT or SIGTERM.
 */
export const dashboardCommand: Command = {
  name: "dashboard",
  summary: "serve the web dashboard (127.0.0.1 by default) until Ctrl-C",
  description:
    "Binds 127.0.0.1 and lets in only requests from this machine that did not come through a proxy.\n" +
    "Another --host needs --allow-remote: then everyone who reaches the port is let in (as admin, or\n" +
    "read-only with --read-only), so put it behind something that authenticates. It answers only\n" +
    "a Host header of 127.0.0.1, localhost or [::1] at its port (and the address bound): add each\n" +
    "other name it is reached by with --allowed-host. Writes need an Origin header naming that\n" +
    "host. Every action is printed to stderr as a JSON audit line.",
  options: {
    host: { type: "string", value: "<address>", description: "address to bind (default: 127.0.0.1)" },
    port: {
      type: "string",
      value: "<port>",
      description: `port to listen on; 0 picks a free one (default: ${defaultPort})`,
    },
    "base-path": { type: "string", value: "<path>", description: "serve under this path, e.g. /underway" },
    "read-only": { type: "boolean", description: "show everything, change nothing" },
    "allow-remote": { type: "boolean", description: "let in requests from other machines and proxies" },
    "allowed-host": {
      type: "string",
      value: "<name[:port]>",
      multiple: true,
      description: "a Host header to answer besides the loopback names (repeatable, or comma-separated)",
    },
  },
  examples: [
    "underway dashboard",
    "underway dashboard --port 8080 --read-only",
    "underway dashboard --host 0.0.0.0 --allow-remote --read-only --allowed-host ops.example.com",
  ],
  run: async (input) => {
    const portText = stringOf(input.parsed, "port");
    const port = portText === undefined ? defaultPort : Number(portText);
    if (!(Number.isInteger(port) && port >= 0 && port <= 65_535))
      throw new UsageError(`--port must be an integer 0..65535, got ${portText}`);
    const host = stringOf(input.parsed, "host") ?? "127.0.0.1";
    const readOnly = flagOf(input.parsed, "read-only");
    const allowRemote = flagOf(input.parsed, "allow-remote");
    if (!["127.0.0.1", "::1", "localhost"].includes(host) && !allowRemote)
      throw new UsageError(
        `--host ${host} is reachable from other machines: add --allow-remote (with --read-only, or behind a proxy that authenticates)`,
      );
    const basePath = stringOf(input.parsed, "base-path");
    const underway = await input.connect();
    const server = await serveDashboard(underway, {
      host,
      port,
      readOnly,
      ...(basePath === undefined ? {} : { basePath }),
      allowedHosts: listOf(input.parsed, "allowed-host"),
      ...(flagOf(input.parsed, "allow-remote")
        ? { authorize: () => (readOnly ? "read-only" : "admin") }
        : {}),
      onAudit: (event) => input.err(`${JSON.stringify({ audit: event })}\n`),
    });
    if (input.json) input.printJson({ url: server.url });
    else input.out(`underway dashboard at ${server.url}${readOnly ? " (read-only)" : ""} (Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    await server.close();
    return exitCode.ok;
  },
};
