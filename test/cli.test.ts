// The `underway` command line, run as a child process against a real
// PostgreSQL: help, usage errors, connection errors, migrate, pause/resume.
// The commands on the ops API are in test/cliOps.test.ts.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { readdirSync, readFileSync } from "node:fs";
import { Underway, silentLogger } from "../src/index.ts";
import { useDatabase } from "./support/harness.ts";
import { runCli } from "./support/cli.ts";

const migrationCount = readdirSync("db/migrations").filter((file) => file.endsWith(".sql")).length;

describe("underway CLI", () => {
  const { db } = useDatabase("cli");
  const cli = (...args: string[]) => runCli(args, { DATABASE_URL: db().url });

  it("prints help for the tool and each command, and exits 2 on usage errors", async () => {
    // Independent runs in parallel: each is a Node process starting tsx.
    const [help, migrateHelp, none, unknown, badOption, noQueue, badSchema, dashboard, version, group] =
      await Promise.all([
        cli("--help"),
        cli("migrate", "--help"),
        cli(),
        cli("frobnicate"),
        cli("pause", "email", "--frob"),
        cli("pause"),
        cli("pause", "email", "--schema", "Robert'); drop"),
        cli("dashboard", "--port", "http"),
        cli("--version"),
        cli("tasks"),
      ]);
    assert.equal(group.code, 2, "a group without its subcommand");
    assert.match(group.stderr, /`underway tasks` needs a subcommand/);
    assert.match(group.stderr, /Usage: underway tasks <list\|show\|why\|logs>/);
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    assert.equal(version.stdout, `${pkg.version}\n`);
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
    assert.equal(dashboard.code, 2, "dashboard is registered, and checks its port");
    assert.match(dashboard.stderr, /--port must be an integer/);
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

    // A password that is also the user name (the embedded server's): hidden
    // where it is the password, without blanking the scheme and the user.
    const same = await cli("pause", "email", "--url", "postgres://postgres:postgres@127.0.0.1:1/nowhere");
    assert.match(
      same.stderr,
      /cannot use the database at postgres:\/\/postgres:\*\*\*\*@127\.0\.0\.1:1\/nowhere/,
    );

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
    const [dry, all] = await Promise.all([
      cli("migrate", "--dry-run", "--schema", "cli_dry"),
      runCli(["migrate", "--dry-run", "--all", "--schema", "cli_dry"], { DATABASE_URL: undefined }),
    ]);
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

  it("dashboard serves on 127.0.0.1 until SIGINT, and refuses another host without --allow-remote", async () => {
    const refused = await cli("dashboard", "--host", "0.0.0.0", "--port", "0");
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--allow-remote/);
    // The CLI never migrates by itself.
    await (await Underway.connect({ connectionString: db().url, logger: silentLogger })).close();
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "dashboard", "--port", "0"],
      {
        env: { ...process.env, DATABASE_URL: db().url },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      let err = "";
      child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          const found = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
          if (found !== null) resolve(found[0]);
        });
        child.on("exit", (code) => reject(new Error(`exited ${code} before serving: ${err}`)));
      });
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /<h1>Overview<\/h1>/);
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      child.kill("SIGINT");
      assert.equal(await exited, 0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("a malformed --url is a usage error naming it, not a DNS error about a host called `base`", async () => {
    const runs = await Promise.all(
      [
        "not a url",
        "host=localhost dbname=x",
        "http://db.example/x",
        "postgres://u:pw@localhost:99999/db",
      ].map((url) => cli("queues", "--url", url)),
    );
    for (const run of runs) {
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /is malformed: .*expected postgres:\/\/user:password@host:port\/database/);
      assert.doesNotMatch(run.stderr, /ENOTFOUND|getaddrinfo/);
      assert.doesNotMatch(run.stderr, /\n\s+at /);
    }
    assert.doesNotMatch(runs[3]?.stderr ?? "", /:pw@/, "the password stays hidden");
  });

  it("dashboard on a port in use says so in one line, no stack", async () => {
    await (await Underway.connect({ connectionString: db().url, logger: silentLogger })).close();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const run = await cli("dashboard", "--port", String(port));
      assert.equal(run.code, 1);
      assert.equal(
        run.stderr,
        `underway dashboard: error: 127.0.0.1:${port} is already in use: pick another --port, or --port 0 for a free one\n`,
      );
    } finally {
      taken.close();
    }
  });
});
