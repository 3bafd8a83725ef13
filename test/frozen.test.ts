// A frozen server (every PostgreSQL process stopped with SIGSTOP: a hung VM,
// a network black hole) must give a DatabaseError within the query timeout,
// never a hang.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { DatabaseError, Underway, defineJob, silentLogger } from "../src/index.ts";
import { startEmbedded } from "./support/devDatabase.ts";

describe("frozen server", () => {
  it("a query to a frozen server fails with a DatabaseError within queryTimeoutMs", async () => {
    const server = await startEmbedded();
    const postmaster = Number(readFileSync(join(server.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    // Backends put themselves in process groups of their own: signal each.
    const signalAll = (signal: NodeJS.Signals) => {
      const children = execFileSync("pgrep", ["-P", String(postmaster)], { encoding: "utf8" })
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map(Number);
      for (const pid of [postmaster, ...children]) process.kill(pid, signal);
    };
    const underway = await Underway.connect({
      connectionString: server.url,
      logger: silentLogger,
      queryTimeoutMs: 1_500,
    });
    const job = underway.job(defineJob({ queue: "frozen", input: t.type({ n: t.number }) }));
    try {
      await job.enqueue({ n: 1 });
      signalAll("SIGSTOP");
      const started = Date.now();
      await assert.rejects(
        () => job.enqueue({ n: 2 }),
        (error: unknown) => error instanceof DatabaseError && /timeout/i.test(error.message),
      );
      const waited = Date.now() - started;
      assert.ok(waited < 10_000, `rejected after ${waited} ms`);
    } finally {
      signalAll("SIGCONT");
      await underway.close();
      await server.stop();
    }
  });
});
