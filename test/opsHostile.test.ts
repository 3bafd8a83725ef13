// Hostile inputs to the ops API (issue 18): a bulk retry racing an enqueue
// of the same unique key, misspelt or mistyped options, filters PostgreSQL
// cannot take, and a stored schedule that no longer validates.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import * as t from "io-ts";
import { Registry } from "prom-client";
import {
  ConfigError,
  ValidationError,
  defineJob,
  prometheusMetrics,
  schedule,
  serveDashboard,
  type BulkOptions,
  type Underway,
} from "../src/index.ts";
import { eventually, useDatabase } from "./support/harness.ts";

const Input = t.type({ n: t.number, tag: t.string });

describe("ops under hostile input", () => {
  const { db, connect } = useDatabase("ops_hostile");

  const count = async (queue: string, state: string): Promise<number> => {
    const { rows } = await db().pool.query<{ n: number }>(
      "select count(*)::int as n from underway.task_all where queue_name = $1 and state = $2::underway.task_state",
      [queue, state],
    );
    return rows[0]?.n ?? 0;
  };

  /** `n` tasks enqueued into `queue` and marked failed; the first `keyed` get unique keys k0, k1… */
  const failedTasks = async (underway: Underway, queue: string, n: number, keyed = 0): Promise<void> => {
    const job = underway.job(defineJob({ queue, input: Input }));
    for (let i = 0; i < n; i++)
      await job.enqueue({ n: i, tag: "x" }, i < keyed ? { uniqueKey: `k${i}` } : {});
    await db().pool.query(
      "update underway.task set state = 'failed', finished_at = now() where queue_name = $1",
      [queue],
    );
  };

  it("a bulk retry racing an enqueue of the same unique key skips that task and retries the other 299", async () => {
    const underway = await connect();
    await failedTasks(underway, "race_open_tx", 300, 1);
    const job = underway.job(defineJob({ queue: "race_open_tx", input: Input }));
    const tx = new pg.Client({ connectionString: db().url });
    await tx.connect();
    try {
      await tx.query("begin");
      await job.enqueue({ n: -1, tag: "racer" }, { uniqueKey: "k0", client: tx });
      const retry = underway.ops.retry({ queue: "race_open_tx" });
      // The retry now waits on the open transaction's index entry.
      await eventually(async () => {
        const { rows } = await db().pool.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()",
        );
        return (rows[0]?.n ?? 0) > 0;
      });
      await tx.query("commit");
      assert.deepEqual(await retry, { matched: 300, changed: 299, dryRun: false });
    } finally {
      await tx.end();
    }
    assert.equal(await count("race_open_tx", "pending"), 300, "299 retried and the racer");
    assert.equal(await count("race_open_tx", "failed"), 1, "the one whose key the racer took");
  });

  it("two bulk retries at once over tasks sharing unique keys both finish, one task per key live", async () => {
    const underway = await connect();
    // Two failed tasks per key k0..k29.
    await failedTasks(underway, "race_two", 30, 30);
    await db().pool.query("update underway.task set state = 'succeeded' where queue_name = 'race_two'");
    await failedTasks(underway, "race_two", 30, 30);
    await db().pool.query("update underway.task set state = 'failed' where queue_name = 'race_two'");
    const results = await Promise.all([
      underway.ops.retry({ queue: "race_two" }, { batchSize: 3 }),
      underway.ops.retry({ queue: "race_two" }, { batchSize: 7 }),
    ]);
    assert.equal(results[0].changed + results[1].changed, 30);
    assert.equal(await count("race_two", "pending"), 30);
  });

  it("misspelt or mistyped bulk options are ConfigErrors naming the key, and nothing is deleted or cancelled", async () => {
    const underway = await connect();
    await failedTasks(underway, "typos", 3);
    await underway.job(defineJob({ queue: "typos_live", input: Input })).enqueue({ n: 1, tag: "x" });
    const hostile: ReadonlyArray<[unknown, RegExp]> = [
      [{ dryrun: true }, /unknown option "dryrun" \(did you mean "dryRun"\?\)/],
      [{ dry_run: true }, /unknown option "dry_run" \(did you mean "dryRun"\?\)/],
      [{ DryRun: true }, /unknown option "DryRun" \(did you mean "dryRun"\?\)/],
      // Inherited from a prototype: read like an own key, so checked like one.
      [Object.create({ dryrun: true }), /must be a plain object/],
      [Object.defineProperty({}, "dryrun", { value: true, enumerable: false }), /did you mean "dryRun"/],
      [new Map([["dryRun", true]]), /must be a plain object/],
      [{ dryRun: "yes" }, /dryRun must be a boolean, got string "yes"/],
      [{ dryRun: 1 }, /dryRun must be a boolean, got number 1/],
      [{ batchsize: 10 }, /did you mean "batchSize"/],
      [{ limit: "5" }, /limit must be an integer/],
      [{ limit: 1e300 }, /limit must be an integer from 1 to 2\^53-1/],
    ];
    for (const [options, message] of hostile) {
      for (const action of [
        () => underway.ops.delete({ queue: "typos" }, options as BulkOptions),
        () => underway.ops.cancel({ queue: "typos_live" }, options as BulkOptions),
        () => underway.ops.retry({ queue: "typos" }, options as BulkOptions),
        () => underway.ops.redrive("typos", {}, options as BulkOptions),
      ])
        await assert.rejects(
          action,
          (error: unknown) => error instanceof ConfigError && message.test(error.message),
        );
    }
    await assert.rejects(
      () => underway.ops.delete({ queue: "typos" }, { limit: 1e300, dryRun: true }),
      ConfigError,
    );
    assert.equal(await count("typos", "failed"), 3, "nothing deleted");
    assert.equal(await count("typos_live", "pending"), 1, "nothing cancelled");
    // Every other ops call that takes options checks them the same way.
    const config = (call: () => Promise<unknown>, message: RegExp) =>
      assert.rejects(call, (error: unknown) => error instanceof ConfigError && message.test(error.message));
    await config(() => underway.ops.tasks({}, { limt: 5 } as never), /did you mean "limit"/);
    await config(() => underway.ops.tasks({}, { order: 1 } as never), /order must be a string/);
    await config(() => underway.ops.throughput({ Since: new Date() } as never), /did you mean "since"/);
    await config(() => underway.ops.throughput({ since: "2020-01-01" } as never), /since must be a Date/);
    await config(() => underway.ops.schedules({ next: 3 } as never), /did you mean "nextRuns"/);
    await assert.rejects(
      () => underway.ops.tasks({ Queue: "x" } as never),
      (error: unknown) => error instanceof ValidationError && /did you mean "queue"/.test(error.message),
    );
  });

  it("refuses filters PostgreSQL cannot take before querying, and finds a literal \\u0000 in an input", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "filters", input: Input }));
    const literal = await job.enqueue({ n: 1, tag: "C:\\u0000" });
    const invalid = (call: () => Promise<unknown>, message: RegExp) =>
      assert.rejects(
        call,
        (error: unknown) => error instanceof ValidationError && message.test(error.message),
      );
    await invalid(
      () => underway.ops.tasks({ inputContains: { tag: "\ud800" } }),
      /inputContains.tag.*surrogate/,
    );
    await invalid(() => underway.ops.tasks({ inputContains: { tag: "a\u0000" } }), /inputContains.tag.*NUL/);
    await invalid(() => underway.ops.tasks({ errorLike: "\udfff" }), /errorLike/);
    await invalid(() => underway.ops.tasks({ createdAfter: new Date(-8.64e15) }), /createdAfter.*0001-01-01/);
    await invalid(() => underway.ops.delete({ createdBefore: new Date(8.64e15) }), /createdBefore/);
    await invalid(() => underway.ops.retry({ createdAfter: new Date(-62_200_000_000_000) }), /createdAfter/);
    const queues = Array.from({ length: 20_000 }, (_, i) => `q${i}`);
    const started = Date.now();
    await invalid(() => underway.ops.tasks({ queue: queues }), /at most 1000 queues, got 20000/);
    // A number passes a name pattern as its digits: refused by type.
    await invalid(
      () => underway.ops.tasks({ queue: 5 as unknown as string }),
      /expected a queue name, got number/,
    );
    await invalid(() => underway.ops.delete({ queue: queues }, { dryRun: true }), /at most 1000 queues/);
    assert.ok(Date.now() - started < 1_000, "refused without querying");
    await assert.rejects(() => underway.ops.throughput({ since: new Date(8.64e15) }), ConfigError);
    // A string that spells the escape (a backslash, then u0000) is plain text.
    const page = await underway.ops.tasks({ inputContains: { tag: "C:\\u0000" } });
    assert.deepEqual(
      page.tasks.map((task) => task.id),
      [literal],
    );
  });

  it("one stored schedule that no longer validates is shown broken, with its error, beside the others", async () => {
    const underway = await connect();
    await schedule(underway.job(defineJob({ queue: "sched_good", input: Input })), "@daily[UTC]", {
      n: 1,
      tag: "good",
    });
    await schedule(underway.job(defineJob({ queue: "sched_bad", input: Input })), "@hourly[UTC]", {
      n: 2,
      tag: "bad",
    });
    // As an older version (or a Node without this zone) left it.
    await db().pool.query(
      "update underway.schedule set time_zone = 'Mars/Olympus' where queue_name = 'sched_bad'",
    );
    const schedules = await underway.ops.schedules({ nextRuns: 2 });
    const good = schedules.find((info) => info.queue === "sched_good");
    const bad = schedules.find((info) => info.queue === "sched_bad");
    assert.equal(good?.error, null);
    assert.equal(good?.nextRuns.length, 2);
    assert.match(bad?.error ?? "", /unknown time zone "Mars\/Olympus"/);
    assert.deepEqual(bad?.nextRuns, []);
    assert.equal(bad?.timeZone, "Mars/Olympus");
    // The next-run metric of the good schedule's queue is still there.
    const registry = new Registry();
    const metrics = await prometheusMetrics(underway, { registry });
    try {
      const text = await registry.metrics();
      assert.match(text, /underway_schedule_next_run_timestamp_seconds\{queue="sched_good"\} \d+/);
      assert.doesNotMatch(text, /next_run_timestamp_seconds\{queue="sched_bad"\}/);
    } finally {
      metrics.stop();
    }
    // The dashboard's page lists both, the broken one with its reason.
    const server = await serveDashboard(underway);
    try {
      const response = await fetch(new URL("schedules", server.url));
      assert.equal(response.status, 200);
      const page = await response.text();
      assert.match(page, /sched_good/);
      assert.match(page, /Broken, never fires:<\/strong> invalid schedule [^<]*unknown time zone/);
    } finally {
      await server.close();
    }
  });
});
