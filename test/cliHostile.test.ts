// Hostile input to the `underway` command line (issue 18): passwords full
// of URL-special characters, system schemas and refused migrations, filters
// PostgreSQL cannot take, and a stored schedule that no longer validates.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob, schedule } from "../src/index.ts";
import { useDatabase } from "./support/harness.ts";
import { runCli, type CliRun } from "./support/cli.ts";

const Input = t.type({ n: t.number, tag: t.string });

/** Every character with a meaning in a URL, and a space, between two markers. */
const password = "Sekr3t:/?#[]@!$&'()*+,;=% tail9";

const printed = (run: CliRun): string => run.stdout + run.stderr;

describe("underway CLI under hostile input", () => {
  const { db, connect } = useDatabase("cli_hostile");
  const cli = (...args: string[]) => runCli(args, { DATABASE_URL: db().url });

  it("never prints a password, however special its characters, typed raw or percent-encoded", async () => {
    const server = new URL(db().url);
    const at = (secret: string) => `postgres://postgres:${secret}@${server.host}/no_such_database_here`;
    const cases: ReadonlyArray<{ url: string; secret: string; code: number }> = [
      // Typed raw, pg would read another user, password and host: refused before connecting.
      { url: at(password), secret: password, code: 2 },
      { url: at("Sekr3t#pw"), secret: "Sekr3t#pw", code: 2 },
      { url: at("p@ss/w:rd?x#y"), secret: "p@ss/w:rd?x#y", code: 2 },
      // Encoded, it connects (the test server trusts every password) and fails on the database.
      { url: at(encodeURIComponent(password)), secret: password, code: 1 },
      ...[..."!$&'()*+,;=% []"].map((c) => ({
        url: at(`Sekr3t${c}tail9`),
        secret: `Sekr3t${c}tail9`,
        code: -1,
      })),
    ];
    for (const { url, secret, code } of cases) {
      const runs = await Promise.all([
        runCli(["queues", "--url", url]),
        runCli(["tasks", "list", "--json"], { DATABASE_URL: url }),
        runCli(["migrate", "--url", url]),
      ]);
      for (const run of runs) {
        const text = printed(run);
        if (code !== -1) assert.equal(run.code, code, text);
        else assert.ok(run.code === 1 || run.code === 2, text);
        for (const leak of [secret, encodeURIComponent(secret), "Sekr3t", "tail9", "ss/w", "rd?x", "x#y"])
          assert.ok(
            !text.includes(leak),
            `${JSON.stringify(leak)} printed for ${JSON.stringify(secret)}: ${text}`,
          );
        assert.match(text, /postgres:\/\/postgres:\*\*\*\*@/);
        assert.doesNotMatch(text, /\n\s+at /, "no stack");
      }
      if (code === 2) assert.match(printed(runs[0] as CliRun), /percent-encode the password/);
    }
  });

  it("never echoes a connection string it cannot parse, and hides a socket URL's password parameter", async () => {
    const secret = "Qz9secretVALUE";
    const malformed = [
      ` postgres://postgres:${secret}@127.0.0.1/x`,
      `\tpostgres://postgres:${secret}@127.0.0.1/x`,
      `"postgres://postgres:${secret}@127.0.0.1/x"`,
      `postgres:/u:${secret}@h`,
      `postgres:u:${secret}@h`,
      `postgres//u:${secret}@h`,
      secret,
    ];
    const runs = await Promise.all([
      ...malformed.flatMap((url) => [cli("queues", "--url", url), cli("queues", "--json", "--url", url)]),
      runCli(["migrate"], { DATABASE_URL: malformed[0] }),
    ]);
    for (const run of runs) {
      assert.equal(run.code, 2, printed(run));
      assert.match(run.stderr, /is malformed/);
      assert.doesNotMatch(printed(run), new RegExp(secret));
    }
    const socket = await cli("queues", "--url", `socket:/nowhere-${secret.length}?db=x&password=${secret}`);
    assert.equal(socket.code, 1, printed(socket));
    assert.match(socket.stderr, /password=\*\*\*\*/);
    assert.doesNotMatch(printed(socket), new RegExp(secret));
    // Other parameters pg reads as passwords, however their names are escaped.
    const others = await Promise.all([
      cli("queues", "--url", `socket:/nowhere?db=x&pass%77ord=${secret}`),
      cli(
        "queues",
        "--json",
        "--url",
        `postgres://u:pw@127.0.0.1:1/db?sslpassword=${secret}&sslmode=disable`,
      ),
      cli("queues", "--url", `postgres://u@127.0.0.1:1/db?PASSWORD=${secret}`),
    ]);
    for (const run of others) {
      assert.equal(run.code, 1, printed(run));
      assert.doesNotMatch(printed(run), new RegExp(secret));
    }
  });

  it("migrate refuses PostgreSQL's own schemas, and a statement PostgreSQL refuses is one line", async () => {
    for (const schema of ["information_schema", "pg_catalog", "pg_toast", "pg_underway"]) {
      const run = await cli("migrate", "--schema", schema);
      assert.equal(run.code, 2, printed(run));
      assert.match(run.stderr, /belongs to PostgreSQL itself/);
    }
    const { rows } = await db().pool.query(
      "select 1 from pg_tables where schemaname in ('information_schema', 'pg_catalog') and tablename = 'migration'",
    );
    assert.equal(rows.length, 0, "nothing created in a system schema");
    // `public` is an ordinary schema: a table of the application's in the way fails the one transaction.
    await db().pool.query("create table public.task (x int)");
    const refused = await cli("migrate", "--schema", "public");
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      'underway migrate: error: migration 0001_init failed in schema public: relation "task" already exists (SQLSTATE 42P07); nothing was applied\n',
    );
    const { rows: left } = await db().pool.query(
      "select 1 from pg_tables where schemaname = 'public' and tablename = 'migration'",
    );
    assert.equal(left.length, 0, "rolled back");
  });

  it("filters PostgreSQL cannot take are usage errors (exit 2), and a literal \\u0000 in --input is plain text", async () => {
    const underway = await connect();
    const literal = await underway
      .job(defineJob({ queue: "cli_filters", input: Input }))
      .enqueue({ n: 1, tag: "C:\\u0000" });
    const queues = Array.from({ length: 20_000 }, (_, i) => `q${i}`).join(",");
    const runs = await Promise.all([
      cli("tasks", "list", "--input", '{"tag":"\\ud800"}'),
      cli("tasks", "list", "--after", "99999999d"),
      cli("tasks", "list", "--queue", queues),
      cli("delete", "--dry-run", "--queue", queues),
      cli("retry", "--dry-run", "--before", "99999999d"),
    ]);
    for (const run of runs) {
      assert.equal(run.code, 2, printed(run));
      assert.match(run.stderr, /invalid task filter/);
    }
    const found = await cli("tasks", "list", "--json", "--input", '{"tag":"C:\\\\u0000"}');
    assert.equal(found.code, 0, printed(found));
    assert.deepEqual(
      (JSON.parse(found.stdout) as { tasks: Array<{ id: string }> }).tasks.map((task) => task.id),
      [literal],
    );
  });

  it("a filter flag given empty (an unset variable) is a usage error, never a bulk action on every queue", async () => {
    const underway = await connect();
    const ids = await Promise.all(
      ["empty_a", "empty_b"].map((queue) =>
        underway.job(defineJob({ queue, input: Input })).enqueue({ n: 1, tag: "x" }),
      ),
    );
    await underway.ops.cancel({ ids });
    const runs = await Promise.all([
      cli("delete", "--queue", "", "--yes"),
      cli("delete", "--queue", ",", "--yes"),
      cli("delete", "--queue", " ", "--yes"),
      cli("delete", "--state=", "--yes"),
      cli("delete", "--id", ",", "--yes"),
      cli("retry", "--error", "", "--yes"),
      cli("tasks", "list", "--key", ""),
      // An empty part of a list: a lost value as likely as a whole empty flag.
      cli("delete", "--queue", "empty_a", "--queue", "", "--yes"),
      cli("delete", "--id", `${ids[0]},`, "--yes"),
      cli("cancel", "--state", "cancelled,", "--yes"),
    ]);
    for (const run of runs) {
      assert.equal(run.code, 2, printed(run));
      assert.match(run.stderr, /--\w+ was given without a value/);
    }
    const left = await underway.ops.tasks({ ids });
    assert.equal(left.tasks.length, 2, "nothing was deleted");
    // A comma inside a single-value filter is text, not a list.
    const comma = await cli("tasks", "list", "--error", "timeout,");
    assert.equal(comma.code, 0, printed(comma));
  });

  it("`underway schedules` shows a broken schedule as broken and lists the others", async () => {
    const underway = await connect();
    await schedule(underway.job(defineJob({ queue: "cli_good", input: Input })), "@daily[UTC]", {
      n: 1,
      tag: "g",
    });
    await schedule(underway.job(defineJob({ queue: "cli_bad", input: Input })), "@daily[UTC]", {
      n: 2,
      tag: "b",
    });
    await db().pool.query(
      "update underway.schedule set time_zone = 'Mars/Olympus' where queue_name = 'cli_bad'",
    );
    const table = await cli("schedules");
    assert.equal(table.code, 0, printed(table));
    assert.match(table.stdout, /cli_good .*\d{4}-\d{2}-\d{2}/);
    assert.match(table.stdout, /cli_bad .*BROKEN: invalid schedule .*unknown time zone/);
    const json = await cli("schedules", "--json");
    assert.equal(json.code, 0);
    const listed = JSON.parse(json.stdout) as Array<{ queue: string; error: string | null }>;
    assert.equal(listed.find((info) => info.queue === "cli_good")?.error, null);
    assert.match(listed.find((info) => info.queue === "cli_bad")?.error ?? "", /Mars\/Olympus/);
  });
});
