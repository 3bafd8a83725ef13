// `npm test`: runs the suite in its lanes (test/lanes.ts) against
// DATABASE_URL, or against an embedded PostgreSQL started here (so a fresh
// machine needs nothing installed).
//
//   npx tsx test/run.ts                       every lane
//   npx tsx test/run.ts --lane unit           no database: none is started or read
//   npx tsx test/run.ts --lane db --lane system
//   npx tsx test/run.ts test/x.test.ts ...    these files, each in its lane
//
// Other `--test-…` flags (`--test-name-pattern=…`) go to node's runner.
// The runs, one after another: the unit lane (no DATABASE_URL in its
// environment); then the db lane's files and the system lane's, two at a
// time (each file has a database of its own); then the files that must run
// alone, one at a time. One summary line ends the whole run.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { aloneBecause, laneNames, laneOf, lanes, type Lane } from "./lanes.ts";
import { devDatabase, type DevDatabase } from "./support/devDatabase.ts";
import { unitLaneVariable } from "./support/testDatabase.ts";

const usage = (message: string): never => {
  console.error(`test/run.ts: ${message}\nusage: npx tsx test/run.ts [--lane unit|db|system]... [file...]`);
  process.exit(2);
};

const isLane = (name: string): name is Lane => (laneNames as ReadonlyArray<string>).includes(name);

/** The lanes asked for (all when none), the files named, and flags for node's runner. */
const parseArgs = (args: ReadonlyArray<string>) => {
  const wanted = new Set<Lane>();
  const files: string[] = [];
  const nodeFlags: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] ?? "";
    const lane = arg === "--lane" ? args[(i += 1)] : arg.startsWith("--lane=") ? arg.slice(7) : undefined;
    if (lane !== undefined) {
      if (!isLane(lane)) usage(`no lane ${JSON.stringify(lane)}: the lanes are ${laneNames.join(", ")}`);
      else wanted.add(lane);
    } else if (arg.startsWith("--test-")) nodeFlags.push(arg);
    else if (arg.startsWith("-")) usage(`unknown option ${arg}`);
    else files.push(arg);
  }
  return { wanted: wanted.size === 0 ? new Set(laneNames) : wanted, files, nodeFlags };
};

const { wanted, files: named, nodeFlags } = parseArgs(process.argv.slice(2));
const listed = readdirSync("test")
  .filter((file) => file.endsWith(".test.ts"))
  .sort()
  .map((file) => `test/${file}`);
for (const file of named) if (!existsSync(file)) usage(`no file ${file}`);

// A file the manifest does not know runs with a database, where it cannot
// fail for want of one; a manifest entry without its file is a stale line.
const placementOf = (file: string) => {
  const placement = lanes[basename(file)];
  if (placement === undefined)
    console.error(`test/run.ts: ${file} is in no lane of test/lanes.ts: running it in the db lane`);
  return placement ?? "db";
};
if (named.length === 0)
  for (const name of Object.keys(lanes))
    if (!listed.includes(`test/${name}`))
      console.error(`test/run.ts: test/lanes.ts lists ${name}, which is not in test/`);

const chosen = (named.length > 0 ? named : listed)
  .map((file) => ({ file, placement: placementOf(file) }))
  .filter(({ placement }) => wanted.has(laneOf(placement)));

/** One `node --test` run: files run `concurrency` at a time. */
interface Run {
  readonly title: string;
  readonly files: ReadonlyArray<string>;
  readonly concurrency: number;
  readonly database: boolean;
}

const parallelFiles = Number(process.env["UNDERWAY_TEST_CONCURRENCY"] ?? 2);
if (!Number.isInteger(parallelFiles) || parallelFiles < 1)
  usage("UNDERWAY_TEST_CONCURRENCY must be a whole number of files, at least 1");
const filesOf = (test: (placement: (typeof chosen)[number]["placement"]) => boolean) =>
  chosen.filter(({ placement }) => test(placement)).map(({ file }) => file);
const together = (lane: Lane) => filesOf((p) => laneOf(p) === lane && aloneBecause(p) === undefined);
const dbLanes = (["db", "system"] as const).filter((lane) => wanted.has(lane));
const runs: ReadonlyArray<Run> = [
  {
    title: "unit lane, no database",
    files: filesOf((p) => laneOf(p) === "unit"),
    concurrency: Math.max(2, availableParallelism()),
    database: false,
  },
  {
    // Names only the lanes asked for (`--lane db` runs no system file).
    title: `${dbLanes.join(" and ")} lane${dbLanes.length > 1 ? "s" : ""}, ${parallelFiles} files at a time`,
    // The system lane's files first: they are the longer ones, and a long
    // file started last would run on alone at the end.
    files: [...together("system"), ...together("db")],
    concurrency: parallelFiles,
    database: true,
  },
  {
    title: "files that run alone, one at a time",
    files: filesOf((p) => laneOf(p) !== "unit" && aloneBecause(p) !== undefined),
    concurrency: 1,
    database: true,
  },
].filter((run) => run.files.length > 0);

/**
 * The environment of the unit lane: no DATABASE_URL, no PG* variables pg
 * would fall back to, and the marker support/testDatabase.ts refuses on.
 */
const unitEnvironment = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (key !== "DATABASE_URL" && !key.startsWith("PG")) env[key] = value;
  // A pg client given no settings would try this socket, which is not there.
  env["PGHOST"] = "/nonexistent/underway-unit-lane";
  env[unitLaneVariable] = "1";
  return env;
};

// Node's usual reporter on stdout (spec on a terminal, TAP otherwise, the same
// on every Node version), and ours to a file per run, summed and printed last:
// one plain `N passed, N failed, N skipped` line that counts skipped suites too.
const summaryDir = mkdtempSync(join(tmpdir(), "underway-test-summary-"));

/** Runs one `node --test`; resolves with its exit code and its summary line, if it wrote one. */
const runOnce = async (run: Run, index: number, database: DevDatabase | undefined) => {
  const summaryFile = join(summaryDir, `summary-${index}.txt`);
  const reporters = [
    `--test-reporter=${process.stdout.isTTY ? "spec" : "tap"}`,
    "--test-reporter-destination=stdout",
    "--test-reporter=./test/support/summaryReporter.mjs",
    `--test-reporter-destination=${summaryFile}`,
  ];
  const env = database === undefined ? unitEnvironment() : { ...process.env, DATABASE_URL: database.url };
  console.log(`# ${run.title}: ${run.files.length} file${run.files.length === 1 ? "" : "s"}`);
  const started = performance.now();
  const code = await new Promise<number>((done) => {
    const child = spawn(
      process.execPath,
      [
        ...["--import", "tsx", "--test", `--test-concurrency=${run.concurrency}`, "--test-timeout=180000"],
        ...reporters,
        ...nodeFlags,
        ...run.files,
      ],
      { stdio: "inherit", env },
    );
    child.on("exit", (status, signal) => done(status ?? (signal === null ? 1 : 128)));
  });
  console.log(`# ${run.title}: ${((performance.now() - started) / 1000).toFixed(1)} s, exit ${code}`);
  let summary = "";
  try {
    summary = readFileSync(summaryFile, "utf8").trim();
  } catch {
    // The runner died before its reporters ended: the exit code says so.
  }
  return { code, summary };
};

const counts = { passed: 0, failed: 0, skipped: 0 };
const broken: string[] = [];
let exitCode = 0;
let database: DevDatabase | undefined;
try {
  for (const [index, run] of runs.entries()) {
    if (run.database) database ??= await devDatabase();
    const { code, summary } = await runOnce(run, index, run.database ? database : undefined);
    if (code !== 0) exitCode = exitCode === 0 ? code : exitCode;
    const match = /^summary: (\d+) passed, (\d+) failed, (\d+) skipped$/.exec(summary);
    if (match === null) broken.push(`${run.title} (exit ${code})`);
    else {
      counts.passed += Number(match[1]);
      counts.failed += Number(match[2]);
      counts.skipped += Number(match[3]);
    }
  }
} finally {
  await database?.stop();
  rmSync(summaryDir, { recursive: true, force: true });
}
if (runs.length === 0) usage(`no test file in the lanes asked for (${[...wanted].join(", ")})`);
console.log(
  broken.length > 0
    ? `summary: the test runner ended without a summary for the ${broken.join(", ")}`
    : `summary: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`,
);
process.exit(exitCode !== 0 ? exitCode : broken.length > 0 ? 1 : 0);
