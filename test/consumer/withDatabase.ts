// `npm run test:consumer`: runs test/consumer/run.sh against DATABASE_URL, or
// against an embedded PostgreSQL started here (as `npm test` does), so it
// works on a machine with nothing but Node.js.
import { spawn } from "node:child_process";
import { devDatabase } from "../support/devDatabase.ts";

const database = await devDatabase();
const code = await new Promise<number>((done) => {
  const child = spawn("bash", ["test/consumer/run.sh", ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, DATABASE_URL: database.url },
  });
  child.on("exit", (status, signal) => done(status ?? (signal === null ? 1 : 128)));
});
await database.stop();
process.exit(code);
