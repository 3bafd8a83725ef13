import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve as fromHere } from "node:path";

/** What one run of the `underway` command printed, and how it ended. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * How to start the CLI: `src/cli/main.ts` bundled into one ES module by
 * esbuild (the transform tsx applies at every start, done once per test
 * process), so a start costs plain node's ~0.1 s of CPU instead of tsx's
 * ~0.45 s; the CLI files start some 150 of them. The bundle's folder is laid
 * out as the checkout is, for the lookups relative to a module: `db/` beside
 * `src/`, package.json two folders up, node_modules for the packages left
 * out of the bundle. Without esbuild (tsx's dependency, not ours), under tsx.
 */
const cliEntry = (() => {
  let entry: Promise<ReadonlyArray<string>> | undefined;
  return (): Promise<ReadonlyArray<string>> =>
    (entry ??= (async () => {
      const underTsx = ["--import", "tsx", "src/cli/main.ts"];
      const root = mkdtempSync(join(tmpdir(), "underway-cli-"));
      process.once("exit", () => rmSync(root, { recursive: true, force: true }));
      try {
        const { build } = await import("esbuild");
        for (const name of ["package.json", "node_modules"]) symlinkSync(fromHere(name), join(root, name));
        mkdirSync(join(root, "cli"));
        symlinkSync(fromHere("db"), join(root, "cli", "db"), "dir");
        const outfile = join(root, "cli", "src", "main.mjs");
        await build({
          entryPoints: ["src/cli/main.ts"],
          bundle: true,
          platform: "node",
          format: "esm",
          packages: "external",
          target: "node20",
          outfile,
          logLevel: "silent",
        });
        return [outfile];
      } catch {
        return underTsx;
      }
    })());
})();

/**
 * Runs the real CLI (`src/cli/main.ts`, bundled: see {@link cliEntry}) in a
 * child process, as a user's shell would, with `env` replacing the test's
 * DATABASE_URL when given. Fails if it does not exit by itself within `timeoutMs`.
 */
export const runCli = (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>> = {},
  timeoutMs = 120_000,
): Promise<CliRun> => cliEntry().then((entry) => started(entry, args, env, timeoutMs));

const started = (
  entry: ReadonlyArray<string>,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  timeoutMs: number,
): Promise<CliRun> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...entry, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`underway ${args.join(" ")} did not exit within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
