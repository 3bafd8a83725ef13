// `npm test`: runs the suite against DATABASE_URL, or against an embedded
// PostgreSQL started here (so a fresh machine needs nothing installed).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { devDatabase } from "./support/devDatabase.ts";

const database = await devDatabase();
const requested = process.argv.slice(2);
const files =
  requested.length > 0
    ? requested
    : readdirSync("test")
        .filter((file) => file.endsWith(".test.ts"))
        .sort()
        .map((file) => `test/${file}`);

// Node's usual reporter on stdout (spec on a terminal, TAP otherwise, the same
// on every Node version), and ours to a file, printed last: one plain
// `N passed, N failed, N skipped` line that counts skipped suites too.
const summaryDir = mkdtempSync(join(tmpdir(), "underway-test-summary-"));
const summaryFile = join(summaryDir, "summary.txt");
const reporters = [
  `--test-reporter=${process.stdout.isTTY ? "spec" : "tap"}`,
  "--test-reporter-destination=stdout",
  "--test-reporter=./test/support/summaryReporter.mjs",
  `--test-reporter-destination=${summaryFile}`,
];

const code = await new Promise<number>((done) => {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--test", "--test-concurrency=1", "--test-timeout=180000", ...reporters, ...files],
    { stdio: "inherit", env: { ...process.env, DATABASE_URL: database.url } },
  );
  child.on("exit", (status, signal) => done(status ?? (signal === null ? 1 : 128)));
});
await database.stop();
let summary = "";
try {
  summary = readFileSync(summaryFile, "utf8").trim();
} catch {
  // The runner died before its reporters ended: the exit code says so.
}
rmSync(summaryDir, { recursive: true, force: true });
console.log(summary === "" ? `summary: the test runner ended without a summary (exit ${code})` : summary);
process.exit(code);
