// Graceful shutdown: on SIGTERM a worker stops claiming, lets in-flight
// tasks finish (within `shutdownGraceMs`), writes their results, then exits.
// The worker runs in a child process, and this process sends it SIGTERM
// while three slow tasks run, as a deploy or `kill` would.
// Run: `npx tsx examples/gracefulShutdown.ts`
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as t from "io-ts";
import { Underway, defineJob } from "../src/index.ts";

// Shared by both processes: the parent only enqueues, the child only works.
const reports = defineJob({ queue: "reports", input: t.type({ report: t.number }) });

const worker = async (url: string): Promise<void> => {
  const underway = await Underway.connect({ connectionString: url });
  underway.job(reports).start(
    async ({ report }) => {
      console.log(`report ${report}: started`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      console.log(`report ${report}: finished`);
      return null;
    },
    { concurrency: 3, shutdownGraceMs: 10_000 },
  );
  // SIGTERM or SIGINT: close gracefully, then exit 0.
  underway.stopOnSignals();
};

const main = async (): Promise<void> => {
  // Imported here only: the worker process needs no dev database of its own.
  const { devDatabase } = await import("../test/support/devDatabase.ts");
  const database = await devDatabase();
  const underway = await Underway.connect({ connectionString: database.url });
  await underway.job(reports).enqueueMany([1, 2, 3, 4, 5].map((report) => ({ report })));

  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), "worker", database.url],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let started = 0;
  child.stdout.on("data", (chunk: Buffer) => {
    process.stdout.write(chunk);
    const before = started;
    started += chunk.toString().split("started").length - 1;
    if (before < 3 && started >= 3) {
      console.log("sending SIGTERM to the worker");
      child.kill("SIGTERM");
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  console.log(`worker exited with ${code}`);

  const { rows } = await underway.pool.query<{ state: string; n: number }>(
    "select state::text, count(*)::int as n from underway.task_all group by state order by state",
  );
  console.log("after shutdown:", rows.map((row) => `${row.n} ${row.state}`).join(", "));
  await underway.close();
  await database.stop();
  // The three in-flight reports finished; the other two wait for the next worker.
  const expected = rows.map((row) => `${row.n} ${row.state}`).join(", ") === "2 pending, 3 succeeded";
  process.exit(code === 0 && expected ? 0 : 1);
};

if (process.argv[2] === "worker") await worker(process.argv[3] ?? "");
else await main();
