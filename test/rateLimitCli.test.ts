// An operator changes a queue's rate limit from the CLI while worker
// processes run it (issue 21): the workers, polling once a minute, take the
// change at once (its NOTIFY), the operator's setting overrides the
// definition's until cleared, and bad flags are usage errors naming the flag.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RateLimit } from "../src/index.ts";
import { rateJob } from "./fixtures/rateDefinitions.ts";
import { runCli as runCliHere } from "../src/cli/runCli.ts";
import { runCli } from "./support/cli.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { spawnFixture, stopFixtures, type FixtureProcess } from "./support/processes.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("rate limits from the CLI", () => {
  let workers: FixtureProcess[] = [];
  // Before the database's hooks: the workers stop before it is dropped.
  after(() => stopFixtures(workers));
  const { db, connect } = useDatabase("rate_cli");
  const queue = "rate_cli";
  const rateLimit = { limit: 2, periodMs: 60_000 };

  before(async () => {
    workers = Array.from({ length: 2 }, () =>
      spawnFixture("rateWorker", {
        url: db().url,
        queues: [{ queue, rateLimit }],
        handlerMs: 10,
        concurrency: 5,
        pollIntervalMs: 60_000,
      }),
    );
    await Promise.all(workers.map((worker) => worker.waitFor((line) => line["ready"] === true)));
  });

  const cli = (...args: string[]) => runCli(["queues", "rate-limit", ...args], { DATABASE_URL: db().url });
  const states = async () =>
    (
      await db().pool.query<{ state: string; n: number }>(
        "select state::text, count(*)::int as n from underway.task_all where queue_name = $1 group by 1 order by 1",
        [queue],
      )
    ).rows.map((row) => [row.state, row.n]);

  it("shows the budget, and a limit set from the CLI applies at once in every worker process until cleared", async () => {
    const underway = await connect();
    await underway.job(rateJob(queue, rateLimit)).enqueueMany(Array.from({ length: 12 }, (_, n) => ({ n })));
    await eventually(
      async () =>
        JSON.stringify(await states()) ===
        JSON.stringify([
          ["pending", 10],
          ["succeeded", 2],
        ]),
      10_000,
      "the definition's two starts",
    );
    await sleep(300);
    assert.deepEqual(await states(), [
      ["pending", 10],
      ["succeeded", 2],
    ]);
    const shown = await cli(queue);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /rate limit:\s+2 per 1m/);
    assert.match(shown.stdout, /from:\s+the definition/);
    assert.match(shown.stdout, /own budget:\s+2 of 2 started in the last 1m; spent, next start/);

    const set = await cli(queue, "--limit", "100", "--period", "1s", "--json");
    assert.equal(set.code, 0, set.stderr);
    const info = JSON.parse(set.stdout) as { rateLimit: RateLimit; source: string; defined: RateLimit };
    assert.deepEqual(info.rateLimit, { limit: 100, periodMs: 1_000 });
    assert.equal(info.source, "operator");
    assert.deepEqual(info.defined, rateLimit);
    // The workers poll once a minute: the change's NOTIFY wakes them.
    await eventually(
      async () => JSON.stringify(await states()) === JSON.stringify([["succeeded", 12]]),
      5_000,
      "the held-back tasks under the operator's limit",
    );
    const listed = await runCli(["queues"], { DATABASE_URL: db().url });
    assert.match(listed.stdout, /RATE LIMIT/);
    assert.match(listed.stdout, new RegExp(`${queue}\\s+active\\s+100/1s`));

    const cleared = await cli(queue, "--clear");
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.match(cleared.stdout, /rate limit:\s+2 per 1m/);
    assert.match(cleared.stdout, /from:\s+the definition/);
  });

  it("refuses bad flags as usage errors naming the flag, before connecting", async () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
      [[queue, "--limit", "0", "--period", "1s"], /--limit must be an integer from 1/],
      [[queue, "--limit", "5"], /--limit needs --period/],
      [[queue, "--period", "2x", "--limit", "5"], /--period must be a duration/],
      [[queue, "--off", "--clear"], /one of them/],
      [[], /name the queue/],
    ];
    // In this process (the same entry point as the binary's), with a
    // database that does not exist: each is refused before connecting.
    for (const [args, message] of cases) {
      let err = "";
      const code = await runCliHere(
        ["queues", "rate-limit", ...args],
        { out: () => undefined, err: (text) => (err += text) },
        { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" },
      );
      assert.equal(code, 2, err);
      assert.match(err, message);
    }
  });
});
