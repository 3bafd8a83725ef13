// `underway check <module>`, the deploy check, run as a child process
// against a real PostgreSQL: exit 3 and the failing tasks when a schema
// change would strand pending tasks, 0 when it would not, and a clear
// error with its own exit status when the module or the database cannot
// be used.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob, defineStepJob } from "../src/index.ts";
import { bundled } from "./support/bundled.ts";
import { runCli } from "./support/cli.ts";
import { useDatabase } from "./support/harness.ts";

const schema = "check_cli";
/** The module's path as a deploy script would pass it: a plain .mjs file (the fixture, bundled). */
const moduleOf = (fixture: string): string => bundled(fixture)[0] ?? "";

describe("underway check", () => {
  const { db, connect } = useDatabase("check_cli");
  const cli = (...args: string[]) => runCli([...args, "--schema", schema], { DATABASE_URL: db().url });
  const scratch = mkdtempSync(join(tmpdir(), "underway-check-"));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it("exits 3 and lists the pending tasks a changed schema would fail, and 0 for a compatible change", async () => {
    const underway = await connect({ schema });
    const old = underway.job(defineJob({ queue: "check_signup", input: t.type({ userId: t.number }) }));
    const ids = await old.enqueueMany([1, 2, 3].map((userId) => ({ userId })));
    await underway
      .job(defineStepJob({ queue: "check_onboard", input: t.type({ userId: t.number }) }))
      .enqueue({ userId: 1 });

    const strict = await cli("check", moduleOf("test/fixtures/checkStrict.ts"));
    assert.equal(strict.code, 3, strict.stderr);
    assert.match(
      strict.stdout,
      /^3 of 4 pending and running task\(s\) of check_onboard, check_signup would fail to decode:\n/,
    );
    for (const id of ids)
      assert.match(
        strict.stdout,
        new RegExp(`\\n *${id} +check_signup +pending +- +plan: expected string, got undefined`),
      );

    const capped = await cli("check", moduleOf("test/fixtures/checkStrict.ts"), "--limit", "1");
    assert.equal(capped.code, 3);
    assert.match(capped.stdout, /… and 2 more \(--limit 10 lists more\)\n$/);
    assert.match(capped.stdout, new RegExp(`\\n *${ids[0]} +check_signup`));
    assert.doesNotMatch(capped.stdout, new RegExp(`\\n *${ids[1]} +check_signup`));

    const json = await cli("check", moduleOf("test/fixtures/checkStrict.ts"), "--json");
    assert.equal(json.code, 3);
    const result = JSON.parse(json.stdout) as {
      failed: number;
      checked: number;
      failures: Array<{ id: string }>;
      definitions: Array<{ export: string; queue: string }>;
    };
    assert.equal(result.failed, 3);
    assert.equal(result.checked, 4);
    assert.deepEqual(
      result.failures.map((failure) => failure.id),
      ids,
    );
    assert.deepEqual(result.definitions, [
      { export: "default", queue: "check_onboard" },
      { export: "signup", queue: "check_signup" },
    ]);

    const loose = await cli("check", moduleOf("test/fixtures/checkLoose.ts"));
    assert.equal(loose.code, 0, loose.stderr);
    assert.equal(
      loose.stdout,
      "ok: the input of each of 3 pending and running task(s) of check_signup decodes\n",
    );
  });

  it("a module it cannot use is a clear error with exit 2: missing, throwing on import, exporting no definition", async () => {
    const empty = join(scratch, "empty.mjs");
    writeFileSync(empty, "export const answer = 42;\nexport default { also: 'nothing' };\n");
    const throwing = join(scratch, "throwing.mjs");
    writeFileSync(throwing, "throw new Error('SMTP_URL is not set');\n");
    // Exports whose properties throw when read: skipped, not a crash.
    const trapped = join(scratch, "trapped.mjs");
    writeFileSync(
      trapped,
      "export const trap = new Proxy({}, { get() { throw new Error('trap'); } });\n" +
        "export default { get boom() { throw new Error('getter'); } };\n",
    );
    // A module exporting `then` is a thenable to import(): it hung, and node exited 13 without a word.
    const thenable = join(scratch, "thenable.mjs");
    writeFileSync(thenable, "export function then() {}\nexport const answer = 42;\n");
    const typed = join(scratch, "jobs.ts");
    writeFileSync(typed, "export const answer: number = 42;\n");
    const [missing, none, threw, noArg, twoArgs, traps, ts, then] = await Promise.all([
      cli("check", join(scratch, "nope.mjs")),
      cli("check", empty),
      cli("check", throwing),
      cli("check"),
      cli("check", empty, throwing),
      cli("check", trapped),
      cli("check", typed),
      cli("check", thenable),
    ]);
    assert.equal(then.code, 2, then.stderr);
    assert.match(then.stderr, /thenable\.mjs" exports no job definition/);
    assert.equal(traps.code, 2, traps.stderr);
    assert.match(traps.stderr, /exports no job definition/);
    // Plain node before 22.18 cannot load TypeScript, and says how to; later ones load it.
    assert.equal(ts.code, 2, ts.stderr);
    assert.match(ts.stderr, /NODE_OPTIONS="--import tsx"|exports no job definition/);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^underway check: no module at ".*nope\.mjs"/);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /exports no job definition \(made by defineJob or defineStepJob/);
    assert.equal(threw.code, 2);
    assert.match(threw.stderr, /cannot import ".*throwing\.mjs": Error: SMTP_URL is not set/);
    assert.equal(noArg.code, 2);
    assert.match(noArg.stderr, /name the module: underway check <module>/);
    assert.equal(twoArgs.code, 2);
    for (const run of [missing, none, threw]) assert.equal(run.stdout, "");
  });

  it("a database it cannot reach is an error with exit 1, after the module loaded", async () => {
    const run = await runCli(
      ["check", moduleOf("test/fixtures/checkLoose.ts"), "--url", "postgres://postgres@127.0.0.1:1/none"],
      {},
    );
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /^underway check: error: cannot use the database at /);
  });
});
