// `npm test`: runs the suite against DATABASE_URL, or against an embedded
// PostgreSQL started here (so a fresh machine needs nothing installed).
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
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

const code = await new Promise<number>((done) => {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--test", "--test-concurrency=1", "--test-timeout=180000", ...files],
    { stdio: "inherit", env: { ...process.env, DATABASE_URL: database.url } },
  );
  child.on("exit", (status, signal) => done(status ?? (signal === null ? 1 : 128)));
});
await database.stop();
process.exit(code);
