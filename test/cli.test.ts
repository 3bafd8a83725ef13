// The `underway` command line, run as a child process against a real
// PostgreSQL: help, usage errors, connection errors, migrate, pause/resume.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readdirSync } from "node:fs";
import * as t from "io-ts";
import { Underway, defineJob, schedule, silentLogger } from "../src/index.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { runCli } from "./support/cli.ts";

const migrationCount = readdirSync("db/migrations").filter((file) => file.endsWith(".sql")).length;

describe("underway CLI", () => {
  const { db, connect } = useDatabase("cli");
  const cli = (...args: string[]) => runCli(args, { DATABASE_URL: db().url });

  it("prints help for the tool and each command, and exits 2 on usage errors", async () => {
    // Independent runs in parallel: each is a Node process starting tsx.
    const [help, migrateHelp, none, unknown, badOption, noQueue, badSchema] = await Promise.all([
      cli("--help"),
      cli("migrate", "--help"),
      cli(),
      cli("frobnicate"),
      cli("pause", "email", "--frob"),
      cli("pause"),
      cli("pause", "email", "--schema", "Robert'); drop"),
    ]);
    assert.equal(help.code, 0);
    for (const name of ["migrate", "queues", "tasks list", "tasks show", "retry", "cancel", "delete"])
      assert.match(help.stdout, new RegExp(`^  ${name} `, "m"), `${name} in the tool's help`);
    for (const name of ["redrive", "pause", "resume", "schedules", "workers", "dashboard"])
      assert.match(help.stdout, new RegExp(`^  ${name} `, "m"), `${name} in the tool's help`);
    assert.equal(migrateHelp.code, 0);
    assert.match(migrateHelp.stdout, /Usage: underway migrate/);
    assert.match(migrateHelp.stdout, /--dry-run/);

    assert.equal(none.code, 2);
    assert.match(none.stderr, /no command given/);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command `frobnicate`/);
    assert.equal(badOption.code, 2);
    assert.match(badOption.stderr, /'--frob'/);
    assert.match(badOption.stderr, /underway pause --help/);
    assert.equal(noQueue.code, 2);
    assert.match(noQueue.stderr, /name at least one queue/);
    assert.equal(badSchema.code, 2);
    assert.match(badSchema.stderr, /invalid schema name/);
    for (const run of [none, unknown, badOption, noQueue, badSchema])
      assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace for a usage error");
  });

  it("needs a database, and never prints the password of one it cannot reach", async () => {
    const secret = "hunter2-secret";
    const [missing, unreachable, json] = await Promise.all([
      runCli(["pause", "email"], { DATABASE_URL: undefined }),
      cli("pause", "email", "--url", `postgres://ops:${secret}@127.0.0.1:1/nowhere`),
      cli("pause", "email", "--json", "--url", `postgres://ops:${secret}@127.0.0.1:1/nowhere`),
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--url .*DATABASE_URL/);
    assert.equal(unreachable.code, 1);
    assert.match(
      unreachable.stderr,
      /cannot use the database at postgres:\/\/ops:\*\*\*\*@127\.0\.0\.1:1\/nowhere/,
    );
    assert.match(unreachable.stderr, /ECONNREFUSED/);
    assert.doesNotMatch(unreachable.stderr + unreachable.stdout, new RegExp(secret));
    assert.doesNotMatch(unreachable.stderr, /\n\s+at /);

    assert.equal(json.code, 1);
    const error = (JSON.parse(json.stderr) as { error: { message: string; exitCode: number } }).error;
    assert.equal(error.exitCode, 1);
    assert.doesNotMatch(error.message, new RegExp(secret));
  });

  it("never migrates implicitly: other commands on an unmigrated schema point at `underway migrate`", async () => {
    const run = await cli("pause", "email", "--schema", "cli_unmigrated");
    assert.equal(run.code, 1);
    assert.match(run.stderr, /schema cli_unmigrated is not migrated \(\d+ pending: 0001_init/);
    assert.match(run.stderr, /underway migrate/);
    const { rows } = await db().pool.query("select 1 from pg_namespace where nspname = 'cli_unmigrated'");
    assert.equal(rows.length, 0, "nothing was created");
  });

  it("migrate --dry-run prints SQL that, applied by another tool, leaves the schema as migrate would", async () => {
    const dry = await cli("migrate", "--dry-run", "--schema", "cli_dry");
    assert.equal(dry.code, 3, dry.stderr);
    assert.match(dry.stdout, new RegExp(`${migrationCount} pending migration`));
    assert.match(dry.stdout, /create table "cli_dry"\.task/);
    assert.doesNotMatch(dry.stdout, /\{\{schema\}\}/);
    const { rows } = await db().pool.query("select 1 from pg_namespace where nspname = 'cli_dry'");
    assert.equal(rows.length, 0, "a dry run changes nothing");

    // Another tool applies it (one transaction, simple query protocol as psql would).
    const client = await db().pool.connect();
    try {
      await client.query(`begin;\n${dry.stdout}\ncommit;`);
    } finally {
      client.release();
    }
    const again = await cli("migrate", "--dry-run", "--schema", "cli_dry");
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /up to date/);
    // migrate verifies every checksum the printed SQL recorded.
    const applied = await cli("migrate", "--schema", "cli_dry", "--json");
    assert.equal(applied.code, 0, applied.stderr);
    const result = JSON.parse(applied.stdout) as { applied: string[]; alreadyApplied: string[] };
    assert.deepEqual(result.applied, []);
    assert.equal(result.alreadyApplied.length, migrationCount);

    const all = await runCli(["migrate", "--dry-run", "--all", "--schema", "cli_dry"], {
      DATABASE_URL: undefined,
    });
    assert.equal(all.code, 0, "--all needs no database");
    assert.match(all.stdout, /create table "cli_dry"\.task/);
  });

  it("migrate applies, and pause/resume are seen by the database", async () => {
    const migrated = await cli("migrate", "--json");
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.equal((JSON.parse(migrated.stdout) as { applied: string[] }).applied.length, migrationCount);
    const underway = await Underway.connect({ pool: db().pool, migrate: false, logger: silentLogger });
    try {
      const paused = await cli("pause", "email", "sms", "--json");
      assert.equal(paused.code, 0, paused.stderr);
      const shown = JSON.parse(paused.stdout) as Array<{ queue: string; pausedAt: string }>;
      assert.deepEqual(
        shown.map((entry) => entry.queue),
        ["email", "sms"],
      );
      const at = await underway.queuePausedAt("email");
      assert.ok(at instanceof Date);
      assert.equal(shown[0]?.pausedAt, at.toISOString());
      assert.ok((await underway.queuePausedAt("sms")) instanceof Date);

      const resumed = await cli("resume", "email");
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, /resumed email/);
      assert.equal(await underway.queuePausedAt("email"), null);
      assert.ok((await underway.queuePausedAt("sms")) instanceof Date, "only the named queue resumed");
    } finally {
      await underway.close();
    }
  });

  it("dashboard is a registered command that is not available yet", async () => {
    const run = await cli("dashboard");
    assert.equal(run.code, 1);
    assert.match(run.stderr, /not available yet/);
  });

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
    await report.enqueueMany([{ userId: 7 }, { userId: 8 }], { delayMs: 3_600_000 });
    await schedule(report, "0 0 * * * *[Europe/Paris]", { userId: 9 });
    const worker = underway.job(defineJob({ queue: "cli_idle", input: Input })).start(async () => null, {
      concurrency: 3,
    });
    const stateOf = async (id: string | undefined) =>
      (
        await db().pool.query<{ queue: string; state: string }>(
          `select queue_name as queue, state::text from ${schema}.task where id = $1`,
          [id],
        )
      ).rows[0];
    try {
      await eventually(
        async () => (await underway.ops.workers()).length > 0,
        20_000,
        "the worker registered",
      );
      const [queues, page1, byInput, shown, shownText, schedules, workers] = await Promise.all([
        cliOps("queues", "--json"),
        cliOps("tasks", "list", "--queue", "cli_mail_dlq", "--limit", "2", "--json"),
        cliOps("tasks", "list", "--input", '{"userId":3}', "--state", "failed", "--json"),
        cliOps("tasks", "show", failed3 ?? "", "--json"),
        cliOps("tasks", "show", failed3 ?? ""),
        cliOps("schedules", "--json"),
        cliOps("workers", "--json"),
      ]);
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
        `select state::text, count(*)::int as n from ${schema}.task group by 1 order by 1`,
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
