#!/usr/bin/env node
// The `underway` command (package.json "bin"). Sets the exit status rather
// than calling process.exit, so output piped to another program is never
// cut short; closing the client lets the process end by itself.
import { runCli } from "./runCli.ts";

// `underway tasks list | head`: a reader that goes away is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
});

process.exitCode = await runCli(
  process.argv.slice(2),
  {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  },
  process.env,
);
