import { spawn, type ChildProcess } from "node:child_process";
import { bundled } from "./bundled.ts";
import { eventually } from "./harness.ts";

/** A test fixture running as its own Node process, talking JSON lines on stdout. */
export interface FixtureProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every JSON line printed so far. */
  readonly lines: ReadonlyArray<Record<string, unknown>>;
  /** What it printed on stderr, when started with `{ stderr: "capture" }`. */
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** Waits until some printed line satisfies `match`. */
  waitFor(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
    what?: string,
  ): Promise<void>;
}

/**
 * Starts `test/fixtures/<name>.ts` (bundled: see ./bundled.ts), with `config` as its one JSON
 * argument. Its stderr goes to the test's, or is kept for assertions.
 */
export const spawnFixture = (
  name: string,
  config: unknown,
  options: { readonly stderr?: "inherit" | "capture" } = {},
): FixtureProcess => {
  const entry = `test/fixtures/${name}.ts`;
  // The devDatabase fixture finds its watchdog script beside its own module.
  const start = name === "devDatabase" ? ["--import", "tsx", entry] : bundled(entry);
  const child = spawn(process.execPath, [...start, JSON.stringify(config)], {
    stdio: ["ignore", "pipe", options.stderr === "capture" ? "pipe" : "inherit"],
  });
  if (child.pid === undefined) throw new Error(`could not start fixture ${name}`);
  const lines: Array<Record<string, unknown>> = [];
  let buffer = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    for (const part of parts) if (part.trim() !== "") lines.push(JSON.parse(part) as Record<string, unknown>);
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | string>((done) =>
    child.on("exit", (code, signal) => done(code ?? signal ?? "unknown")),
  );
  return {
    child,
    pid: child.pid,
    lines,
    stderr: () => stderr,
    exited,
    waitFor: (match, timeoutMs = 20_000, what = "a line from the fixture") =>
      eventually(() => lines.some(match), timeoutMs, what),
  };
};

/** Stops fixtures gracefully (SIGTERM) and waits until every one has exited. */
export const stopFixtures = async (fixtures: ReadonlyArray<FixtureProcess>): Promise<void> => {
  for (const fixture of fixtures) fixture.child.kill("SIGTERM");
  await Promise.all(fixtures.map((fixture) => fixture.exited));
};
