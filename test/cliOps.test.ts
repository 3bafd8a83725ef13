// The `underway` commands on the ops API, run as child processes against a
// real PostgreSQL: queues, tasks list/show, schedules, workers, and the bulk
// commands' dry runs (exit 3, nothing changed) and --yes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob, schedule } from "../src/index.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { runCli } from "./support/cli.ts";

describe("underway CLI on the ops API", () => {
  const { db, connect } = useDatabase("cli_ops");
  const cli = (...args: string[]) => runCli(args, { DATABASE_URL: db().url });

  it("inspects and acts through the ops API: queues, tasks list/show, bulk dry runs exit 3, --yes acts", async () => {
    const schema = "cli_ops";
    const cliOps = (...args: string[]) => cli(...args, "--schema", schema);
    const underway = await connect({ schema });
    const Input = t.type({ userId: t.number });
    const mail = underway.job(
      defineJob({
        queue: "cli_mail",
        dlq: "cli_mail_dlq",
        input: Input,
        options: { retry: { maxAttempts: 1 } },
      }),
    );
    const report = underway.job(defineJob({ queue: "cli_report", input: Input }));
    const ids = await mail.enqueueMany([1, 2, 3, 4, 5].map((userId) => ({ userId })));
    await mail.drain(async ({ userId }) => {
      if (userId % 2 === 1) throw new Error(`smtp down for ${userId}`);
      return null;
    });
    const [failed1, , failed3, , failed5] = ids;
    const [delayedReport] = await report.enqueueMany([{ userId: 7 }, { userId: 8 }], { delayMs: 3_600_000 });
    await schedule(report, "0 0 * * * *[Europe/Paris]", { userId: 9 });
    const worker = underway.job(defineJob({ queue: "cli_idle", input: Input })).start(async () => null, {
      concurrency: 3,
    });
    const stateOf = async (id: string | undefined) =>
      (
        await db().pool.query<{ queue: string; state: string }>(
          `select queue_name as queue, state::text from ${schema}.task_all where id = $1`,
          [id],
        )
      ).rows[0];
    try {
      await eventually(
        async () => (await underway.ops.workers()).length > 0,
        20_000,
        "the worker registered",
      );
      const [queues, page1, byInput, shown, shownText, schedules, workers, listText] = await Promise.all([
        cliOps("queues", "--json"),
        cliOps("tasks", "list", "--queue", "cli_mail_dlq", "--limit", "2", "--json"),
        cliOps("tasks", "list", "--input", '{"userId":3}', "--state", "failed", "--json"),
        cliOps("tasks", "show", failed3 ?? "", "--json"),
        cliOps("tasks", "show", failed3 ?? ""),
        cliOps("schedules", "--json"),
        cliOps("workers", "--json"),
        cliOps("tasks", "list", "--queue", "cli_mail_dlq", "--limit", "2"),
      ]);
      // Why a task is not running: every reason in a line, the estimate; --json the explanation.
      const [why, whyJson, whyEnded, whyMissing] = await Promise.all([
        cliOps("tasks", "why", delayedReport ?? ""),
        cliOps("tasks", "why", delayedReport ?? "", "--json"),
        cliOps("tasks", "why", failed3 ?? ""),
        cliOps("tasks", "why", "987654321"),
      ]);
      assert.equal(why.code, 0, why.stderr);
      assert.match(
        why.stdout,
        new RegExp(`^task ${delayedReport} \\(cli_report\\) is pending: it is not due yet: due in 60 min`),
      );
      assert.match(why.stdout, /\n {2}- delayed: it is not due yet/);
      assert.match(why.stdout, /\n {2}- noWorker: no live worker process works queue cli_report/);
      assert.match(why.stdout, /\nestimated start: unknown/);
      const explanation = JSON.parse(whyJson.stdout) as {
        runnable: boolean;
        reasons: Array<{ kind: string }>;
      };
      assert.deepEqual(
        explanation.reasons.map((reason) => reason.kind),
        ["delayed", "noWorker"],
      );
      assert.equal(explanation.runnable, false);
      assert.match(whyEnded.stdout, /is failed: it ended failed/);
      assert.notEqual(whyMissing.code, 0);
      assert.match(whyMissing.stderr, /no task 987654321/);
      // Human output: a table, then the cursor of the next page.
      assert.match(listText.stdout, /^ID +QUEUE +STATE +ATTEMPT/);
      assert.match(listText.stdout, /cli_mail_dlq +failed +1\/1 .*smtp down/);
      assert.match(listText.stdout, /\nnext page: --cursor \S+\n$/);
      assert.equal(queues.code, 0, queues.stderr);
      const stats = JSON.parse(queues.stdout) as Array<{
        queue: string;
        counts: Record<string, { count: number }>;
      }>;
      const countOf = (queue: string, state: string) =>
        stats.find((entry) => entry.queue === queue)?.counts[state]?.count;
      assert.equal(countOf("cli_mail", "succeeded"), 2);
      assert.equal(countOf("cli_mail_dlq", "failed"), 3);
      assert.equal(countOf("cli_report", "pending"), 2);

      assert.equal(page1.code, 0, page1.stderr);
      const first = JSON.parse(page1.stdout) as { tasks: Array<{ id: string }>; next: string | null };
      assert.equal(first.tasks.length, 2);
      assert.ok(first.next !== null);
      const page2 = await cliOps(
        "tasks",
        "list",
        "--queue",
        "cli_mail_dlq",
        "--limit",
        "2",
        "--cursor",
        first.next,
        "--json",
      );
      const second = JSON.parse(page2.stdout) as { tasks: Array<{ id: string }>; next: string | null };
      assert.equal(second.next, null);
      assert.deepEqual(
        [...first.tasks, ...second.tasks].map((task) => task.id).sort(),
        [failed1, failed3, failed5].sort(),
      );
      assert.deepEqual(
        (JSON.parse(byInput.stdout) as { tasks: Array<{ id: string }> }).tasks.map((task) => task.id),
        [failed3],
      );

      assert.equal(shown.code, 0, shown.stderr);
      const task = JSON.parse(shown.stdout) as {
        input: unknown;
        dlqFrom: string | null;
        history: Array<{ error: string | null }>;
      };
      assert.deepEqual(task.input, { userId: 3 });
      assert.equal(task.dlqFrom, "cli_mail");
      assert.match(task.history[0]?.error ?? "", /smtp down for 3/);
      assert.match(shownText.stdout, /smtp down for 3/);
      assert.match(shownText.stdout, /dead-lettered from cli_mail/);

      const listed = JSON.parse(schedules.stdout) as Array<{
        queue: string;
        timeZone: string;
        nextRuns: string[];
      }>;
      assert.equal(listed[0]?.queue, "cli_report");
      assert.equal(listed[0]?.timeZone, "Europe/Paris");
      assert.equal(listed[0]?.nextRuns.length, 3);
      const live = JSON.parse(workers.stdout) as Array<{
        pid: number;
        queues: Array<{ queue: string; concurrency: number }>;
      }>;
      assert.deepEqual(live.find((entry) => entry.pid === process.pid)?.queues, [
        { queue: "cli_idle", concurrency: 3 },
      ]);

      // Bulk commands: without --yes a dry run (exit 3, nothing changed); with --yes they act.
      const [redriveDry, cancelDry, deleteDry, deleteLive, nothing] = await Promise.all([
        cliOps("redrive", "cli_mail_dlq"),
        cliOps("cancel", "--queue", "cli_report", "--json"),
        cliOps("delete", "--queue", "cli_mail", "--state", "succeeded"),
        cliOps("delete", "--queue", "cli_report", "--yes", "--json"),
        cliOps("retry", "--queue", "cli_mail", "--state", "failed"),
      ]);
      assert.equal(nothing.code, 0, "a dry run that would change nothing exits 0");
      assert.match(nothing.stdout, /nothing to retry/);
      assert.equal(redriveDry.code, 3, redriveDry.stderr);
      assert.match(redriveDry.stdout, /would redrive 3 task/);
      assert.equal(cancelDry.code, 3);
      assert.deepEqual(JSON.parse(cancelDry.stdout), {
        action: "cancel",
        matched: 2,
        changed: 0,
        dryRun: true,
      });
      assert.equal(deleteDry.code, 3);
      assert.match(deleteDry.stdout, /would delete 2 task/);
      assert.equal(deleteLive.code, 0, "nothing to delete: pending tasks need --state to be deleted");
      assert.equal((JSON.parse(deleteLive.stdout) as { changed: number }).changed, 0);
      assert.deepEqual(
        await stateOf(failed1),
        { queue: "cli_mail_dlq", state: "failed" },
        "dry runs changed nothing",
      );
      assert.equal(countOf("cli_report", "pending"), 2);

      // Disjoint tasks: run at once.
      const [redriven, cancelled, retried, deleted] = await Promise.all([
        cliOps("redrive", "cli_mail_dlq", "--id", failed1 ?? "", "--yes", "--json"),
        cliOps("cancel", "--queue", "cli_report", "--yes"),
        cliOps("retry", failed3 ?? "", failed5 ?? "", "--yes", "--json"),
        cliOps("delete", "--queue", "cli_mail", "--state", "succeeded", "--yes"),
      ]);
      assert.equal(redriven.code, 0, redriven.stderr);
      assert.equal((JSON.parse(redriven.stdout) as { changed: number }).changed, 1);
      assert.deepEqual(await stateOf(failed1), { queue: "cli_mail", state: "pending" });
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.match(cancelled.stdout, /cancelled 2 of 2/);
      assert.equal((JSON.parse(retried.stdout) as { changed: number }).changed, 2);
      assert.deepEqual(await stateOf(failed5), { queue: "cli_mail", state: "pending" });
      assert.equal(deleted.code, 0, deleted.stderr);
      const { rows } = await db().pool.query(
        `select state::text, count(*)::int as n from ${schema}.task_all group by 1 order by 1`,
      );
      assert.deepEqual(rows, [
        { state: "cancelled", n: 2 },
        { state: "pending", n: 3 },
      ]);
    } finally {
      await worker.stop();
    }
  });
});
