// Fair tenants across worker processes: the groups' turns are taken in the
// claim statement, so they hold however many processes claim, and each task
// still runs once. And the CLI's view of a queue's groups.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob } from "../src/index.ts";
import { createRunTable, statesOf, summary } from "./support/faults.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { runCli } from "./support/cli.ts";
import { spawnFixture } from "./support/processes.ts";

const N = t.type({ n: t.number });
const groups = 6;
const perGroup = 100;
// The last group's tasks share one concurrency key, two at a time.
const keyedGroup = groups - 1;

describe("fair tenants across processes", () => {
  const { db, connect } = useDatabase("groups_processes");

  it("three processes take turns across the groups, each task once, key limits held", async () => {
    const underway = await connect();
    await createRunTable(db().pool);
    const groupOf = (n: number) => Math.floor(n / perGroup);
    const job = underway.job(
      defineJob({
        queue: "fair",
        input: N,
        optionsFor: ({ n }) => ({
          group: `tenant-${groupOf(n)}`,
          ...(groupOf(n) === keyedGroup ? { concurrencyKey: "shared", concurrencyLimit: 2 } : {}),
        }),
      }),
    );
    const workers = [1, 2, 3].map(() =>
      spawnFixture("faultWorker", {
        url: db().url,
        queue: "fair",
        handlerMs: 20,
        concurrency: 4,
        prefetch: 0,
        pollIntervalMs: 200,
        stopOnSignals: true,
      }),
    );
    try {
      await Promise.all(workers.map((worker) => worker.waitFor((line) => line["ready"] === true)));
      // Group by group, the worst order for a plain FIFO claim.
      const inputs = Array.from({ length: groups * perGroup }, (_, n) => ({ n }));
      await job.enqueueMany(inputs);
      await eventually(
        async () => (await statesOf(db().pool, "fair"))["succeeded"] === inputs.length,
        30_000,
        "every task succeeded",
      );
      await Promise.all(workers.map((worker) => worker.child.kill("SIGTERM")));
      assert.deepEqual(await Promise.all(workers.map((worker) => worker.exited)), [0, 0, 0]);

      // Each task ran exactly once, to its end, at its first attempt.
      const { rows: runs } = await db().pool.query<{
        runs: number;
        ended: number;
        tasks: number;
        retried: number;
      }>(
        `select count(*)::int as runs, count(ended_at)::int as ended, count(distinct task_id)::int as tasks,
                count(*) filter (where attempt > 1)::int as retried
           from fault_run`,
      );
      assert.deepEqual(runs[0], {
        runs: inputs.length,
        ended: inputs.length,
        tasks: inputs.length,
        retried: 0,
      });
      const { rows: pids } = await db().pool.query<{ n: number }>(
        "select count(distinct pid)::int as n from fault_run",
      );
      assert.ok((pids[0]?.n ?? 0) >= 2, "tasks ran in more than one process");

      // Turns: the first tenth of the runs (by start, across processes) has
      // every group in it, about evenly; a FIFO claim would run tenant-0 only.
      const first = groups * 10;
      const { rows: shares } = await db().pool.query<{ group: number; runs: number }>(
        `select r.n / ${perGroup} as group, count(*)::int as runs
           from (select n from fault_run order by started_at, id limit ${first}) r
          group by 1 order by 1`,
      );
      assert.equal(shares.length, groups, `groups in the first ${first} runs: ${JSON.stringify(shares)}`);
      // The keyed group runs two at a time at most, so it may fall behind.
      for (const { group, runs: ran } of shares)
        assert.ok(
          ran >= (group === keyedGroup ? 2 : 5) && ran <= 16,
          `tenant-${group} ran ${ran} of the first ${first}`,
        );

      // The shared key: never more than two at once, across processes.
      const { rows: peak } = await db().pool.query<{ peak: number }>(
        `with run as (select * from fault_run where n / ${perGroup} = ${keyedGroup})
         select max((select count(*) from run b where b.started_at <= a.started_at and b.ended_at > a.started_at))::int
                  as peak
           from run a`,
      );
      assert.equal(peak[0]?.peak, 2, "key 'shared' reached its limit of 2 and never exceeded it");
      summary("fair tenants across processes", {
        processes: workers.length,
        tasks: inputs.length,
        [`runs per group in the first ${first}`]: shares.map((row) => row.runs).join("/"),
        "peak of the shared key": peak[0]?.peak ?? 0,
      });
    } finally {
      for (const worker of workers) worker.child.kill("SIGKILL");
    }
  });

  it("the CLI lists a queue's groups and sets a group's weight", async () => {
    const underway = await connect();
    const cli = (...args: string[]) => runCli(args, { DATABASE_URL: db().url });
    const job = underway.job(
      defineJob({
        queue: "fair_cli",
        input: N,
        optionsFor: ({ n }) => ({ group: n < 1_200 ? "acme" : "globex" }),
      }),
    );
    await job.enqueueMany(Array.from({ length: 1_203 }, (_, n) => ({ n })));
    const set = await cli("group-weight", "fair_cli", "acme", "3");
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /group acme of fair_cli: weight 3/);
    const listed = await cli("groups", "fair_cli");
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^GROUP\s+PENDING\s+RUNNING\s+WEIGHT\s+TURN$/);
    assert.match(lines[1] ?? "", /^acme\s+>1000\s+0\s+3\s*$/);
    assert.match(lines[2] ?? "", /^globex\s+3\s+0\s+1 \(default\)\s*$/);
    const json = await cli("groups", "fair_cli", "--json", "--limit", "1");
    assert.deepEqual(
      (JSON.parse(json.stdout) as Array<{ group: string; weight: number }>).map(({ group, weight }) => ({
        group,
        weight,
      })),
      [{ group: "acme", weight: 3 }],
    );
    const reset = await cli("group-weight", "fair_cli", "acme", "default");
    assert.equal(reset.code, 0, reset.stderr);
    assert.equal((await underway.ops.groups("fair_cli"))[0]?.weightSet, false);
    for (const bad of [
      ["group-weight", "fair_cli", "acme", "0"],
      ["group-weight", "fair_cli", "acme", "x"],
      ["groups"],
    ]) {
      const run = await cli(...bad);
      assert.notEqual(run.code, 0, `${bad.join(" ")} should fail`);
      assert.match(run.stderr, /weight|queue/);
    }
    // Out of range: the message names the CLI's word for the default, not the API's null.
    for (const weight of ["0", "1001"]) {
      const run = await cli("group-weight", "fair_cli", "acme", weight);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /from 1 to 1000 or default, got "/);
      assert.doesNotMatch(run.stderr, /null/);
    }
  });

  it("the CLI shows a group named with control characters quoted, one line each: a tenant cannot write to the operator's terminal", async () => {
    const underway = await connect();
    const cli = (...args: string[]) => runCli(args, { DATABASE_URL: db().url });
    const job = underway.job(defineJob({ queue: "fair_cli_odd", input: N }));
    await job.enqueue({ n: 1 }, { group: "acme\nglobex  9  0  1000" });
    await job.enqueue({ n: 2 }, { group: "\u001b[2J\u001b]0;owned\u0007" });
    await job.enqueue({ n: 3 }, { group: "plain tenant" });
    const listed = await cli("groups", "fair_cli_odd");
    assert.equal(listed.code, 0, listed.stderr);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(listed.stdout.replaceAll("\n", ""), /[\u0000-\u001f\u007f-\u009f]/);
    const lines = listed.stdout.trim().split("\n");
    assert.equal(lines.length, 4, listed.stdout);
    assert.ok(
      lines.some((line) => line.startsWith(String.raw`"\u001b[2J\u001b]0;owned\u0007"`)),
      listed.stdout,
    );
    assert.ok(
      lines.some((line) => line.startsWith(String.raw`"acme\nglobex  9  0  1000"`)),
      listed.stdout,
    );
    assert.ok(
      lines.some((line) => line.startsWith("plain tenant ")),
      listed.stdout,
    );
    const set = await cli("group-weight", "fair_cli_odd", "\u001b[2J", "2");
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^group "\\u001b\[2J" of fair_cli_odd: weight 2$/m);
  });
});
