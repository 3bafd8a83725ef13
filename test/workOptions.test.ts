import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob } from "../src/index.ts";
import { minHeartbeatMs } from "../src/options.ts";
import { useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });

describe("leases", () => {
  const { db, connect } = useDatabase("work_options");

  it("renews the shortest lease allowed often enough, whatever heartbeatTickMs says", async () => {
    const underway = await connect();
    let runs = 0;
    const job = underway.job(
      defineJob({
        queue: "short_lease",
        input: N,
        options: { heartbeatMs: minHeartbeatMs, retry: { maxAttempts: 3 } },
      }),
    );
    const handler = async () => {
      runs += 1;
      await new Promise((done) => setTimeout(done, 3 * minHeartbeatMs));
      return null;
    };
    // A tick far longer than the lease, and a reaper that returns a lapsed
    // lease to pending at once: only a renewal tick derived from the lease
    // keeps the task from running twice.
    const worker = job.start(handler, { heartbeatTickMs: 10_000, reapIntervalMs: 100, pollIntervalMs: 100 });
    const id = await job.enqueue({ n: 1 });
    const outcome = await job.outcome(id);
    await worker.stop();
    assert.equal(outcome._tag, "succeeded");
    assert.equal(runs, 1);
    const { rows } = await db().pool.query<{ attempt: number }>(
      "select attempt from underway.task_all where id = $1",
      [id],
    );
    assert.equal(rows[0]?.attempt, 1);
  });
});
