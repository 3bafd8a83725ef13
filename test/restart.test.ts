import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import pg from "pg";
import { filter, firstValueFrom, timeout } from "rxjs";
import { defineJob, Underway } from "../src/index.ts";
import { startEmbedded } from "./support/devDatabase.ts";
import { summary } from "./support/faults.ts";
import { eventually, recordingLogger } from "./support/harness.ts";

const N = t.type({ n: t.number });
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe("restart", () => {
  it("a PostgreSQL restart mid-run loses no task; a task runs twice only after its lease expired", async () => {
    // A server of this test's own (own port and data folder): it is stopped and started again.
    const server = await startEmbedded();
    const check = new pg.Pool({ connectionString: server.url, max: 2 });
    check.on("error", () => undefined);
    const log = recordingLogger();
    try {
      const underway = await Underway.connect({
        connectionString: server.url,
        logger: log,
        listener: { checkIntervalMs: 1_000 },
      });
      const job = underway.job(
        defineJob({
          queue: "restart",
          input: N,
          // Leases shorter than the outage, so some expire while their completion
          // write is still retrying: the case where at-least-once means twice.
          options: { heartbeatMs: 1_000 },
        }),
      );
      const runs = new Map<string, number>();
      const tasks = 2_500;
      const ids = await job.enqueueMany(Array.from({ length: tasks }, (_, n) => ({ n })));
      const succeeded = async (): Promise<number> => {
        const { rows } = await check
          .query<{ n: number }>("select count(*)::int as n from underway.task_all where state = 'succeeded'")
          .catch(() => ({ rows: [{ n: -1 }] }));
        return rows[0]?.n ?? -1;
      };
      // A long poll: after the restart, the LISTEN reconnect and freed capacity must wake the worker.
      // A reaper quicker than the heartbeat tick: after the outage it usually takes back the
      // expired leases before the worker renews them, so the fenced path is exercised.
      const worker = job.start(
        async ({ n }, { taskId }) => {
          runs.set(taskId, (runs.get(taskId) ?? 0) + 1);
          await sleep(5);
          return n;
        },
        { concurrency: 10, pollIntervalMs: 30_000, reapIntervalMs: 100 },
      );
      await eventually(async () => (await succeeded()) >= tasks / 4, 30_000, "a quarter done");
      const before = await succeeded();
      await server.server.stop();
      const down = Date.now();
      // Down for twice the lease: every lease held at the stop has expired when it is back.
      await sleep(2_000);
      await server.server.start();
      const outageMs = Date.now() - down;
      await eventually(async () => (await succeeded()) === tasks, 60_000, "every task succeeded");

      // The LISTEN connection came back: a task enqueued now starts on its NOTIFY
      // (the poll is 30 s away) and its outcome arrives by NOTIFY too.
      const late = job.outcomes$.pipe(
        filter((outcome) => outcome.taskId === lateId),
        timeout(5_000),
      );
      const lateOutcome = firstValueFrom(late);
      await underway.listening();
      const lateId = await job.enqueue({ n: -1 });
      assert.equal((await lateOutcome)._tag, "succeeded");
      await worker.stop();
      await underway.close();

      const { rows: states } = await check.query<{ state: string; n: number }>(
        "select state::text, count(*)::int as n from underway.task_all group by state",
      );
      assert.deepEqual(states, [{ state: "succeeded", n: tasks + 1 }]);
      const { rows: done } = await check.query<{ id: string }>(
        "select id::text from underway.task_all where state = 'succeeded'",
      );
      const finished = new Set(done.map((row) => row.id));
      assert.deepEqual(
        ids.filter((id) => (runs.get(id) ?? 0) < 1),
        [],
        "every task ran",
      );
      // The only attempts that did not succeed are lost leases; each second run follows one.
      const { rows: attempts } = await check.query<{ task_id: string; state: string }>(
        "select task_id::text, state from underway.task_attempt",
      );
      assert.deepEqual(
        attempts.filter((row) => row.state !== "lost"),
        [],
      );
      const leaseLost = new Set(attempts.map((row) => row.task_id));
      const duplicated = ids.filter((id) => (runs.get(id) ?? 0) > 1);
      assert.deepEqual(
        duplicated.filter((id) => !leaseLost.has(id)),
        [],
        "a task ran twice without losing its lease",
      );
      assert.ok(
        log.lines.some((line) => line.message.startsWith("LISTEN connection lost")),
        "the LISTEN connection noticed the restart",
      );
      summary("restart", {
        tasks,
        restarts: 1,
        "succeeded before": before,
        "outage ms": outageMs,
        "lost tasks": ids.filter((id) => !finished.has(id)).length,
        "lost attempts": attempts.length,
        "ran twice": duplicated.length,
      });
    } finally {
      await check.end();
      await server.stop();
    }
  });
});
