// Per-key throttling with prefetch: a keyed task claimed ahead of a free
// slot holds no key slot until it starts (the database admits it then),
// and a worker's own tasks of one key start no more than the limit at once.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob } from "../src/index.ts";
import { eventually, recordingLogger, useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("concurrency keys with prefetch", () => {
  const { db, connect } = useDatabase("key_prefetch");

  it("a prefetched keyed task does not hold its key: another worker runs the key meanwhile", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "keyed",
        input: N,
        optionsFor: ({ n }) => (n === 0 ? {} : { concurrencyKey: "k", concurrencyLimit: 1 }),
      }),
    );
    const running = new Set<number>();
    let peak = 0;
    let releaseBlocker: () => void = () => undefined;
    const blocker = new Promise<void>((resolve) => (releaseBlocker = resolve));
    const handler = async ({ n }: { n: number }) => {
      running.add(n);
      if (n !== 0) peak = Math.max(peak, [...running].filter((m) => m !== 0).length);
      if (n === 0) await blocker;
      else await sleep(300);
      running.delete(n);
      return n;
    };
    // Worker A: one slot, busy with an unkeyed task; it prefetches the keyed one.
    // A prefetch of one, so A is full then: with room for more, A could claim
    // the second keyed task too, and B would get it only when A's hold ran
    // out (75 s later; the test passed, slowly, in about half the runs).
    await job.enqueue({ n: 0 });
    const a = job.start(handler, { concurrency: 1, prefetch: 1, pollIntervalMs: 50, prefetchHoldMs: 60_000 });
    await eventually(async () => running.has(0), 10_000, "worker A runs the blocker");
    const first = await job.enqueue({ n: 1 });
    const startedOf = async () =>
      (
        await db().pool.query<{ started: boolean }>(
          "select started_at is not null as started from underway.task_all where id = $1 and state = 'in_progress'",
          [first],
        )
      ).rows;
    await eventually(
      async () => (await startedOf()).length === 1,
      10_000,
      "worker A prefetches the keyed task",
    );
    const held = await startedOf();
    assert.deepEqual(held, [{ started: false }], "claimed, not started: no key slot taken");

    // Worker B, idle, gets the next task of the same key and runs it at once.
    const b = job.start(handler, { concurrency: 1, prefetch: 0, pollIntervalMs: 50 });
    const second = await job.enqueue({ n: 2 });
    const asked = Date.now();
    assert.equal(await job.result(second), 2);
    // Meanwhile: well within A's hold, so not after A gave anything back.
    assert.ok(Date.now() - asked < 30_000, `B ran the key's task only after ${Date.now() - asked} ms`);
    // A's prefetched task then starts (or goes back, and runs later): never beside another of its key.
    releaseBlocker();
    assert.equal(await job.result(first), 1);
    assert.equal(peak, 1, "never two tasks of key k at once");
    await Promise.all([a.stop(), b.stop()]);
  });

  it("a worker holding several tasks of one key starts them one at a time, without racing itself for the key", async () => {
    const logger = recordingLogger();
    const underway = await connect({ logger });
    const job = underway.job(
      defineJob({
        queue: "local",
        input: N,
        optionsFor: ({ n }) => (n >= 100 ? {} : { concurrencyKey: "slow", concurrencyLimit: 1 }),
      }),
    );
    const runs: Array<{ n: number; at: number; end: number }> = [];
    let blocking = 0;
    let releaseBlockers: () => void = () => undefined;
    const blockers = new Promise<void>((resolve) => (releaseBlockers = resolve));
    const handler = async ({ n }: { n: number }) => {
      const at = Date.now();
      if (n >= 100) {
        blocking += 1;
        await blockers;
      } else await sleep(150);
      runs.push({ n, at, end: Date.now() });
      return n;
    };
    // Both slots busy with unkeyed blockers, so keyed tasks are prefetched.
    await job.enqueueMany([{ n: 100 }, { n: 101 }]);
    const worker = job.start(handler, {
      concurrency: 2,
      prefetch: 4,
      pollIntervalMs: 50,
      prefetchHoldMs: 60_000,
    });
    await eventually(() => blocking === 2, 10_000, "both slots busy");
    const unstarted = async () =>
      Number(
        (
          await db().pool.query<{ n: number }>(
            "select count(*)::int as n from underway.task_all where queue_name = 'local' and state = 'in_progress' and started_at is null",
          )
        ).rows[0]?.n,
      );
    // One at a time, so separate claims take them: the worker holds three
    // tasks of key "slow" (limit 1), none holding the key.
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      ids.push(await job.enqueue({ n }));
      await eventually(async () => (await unstarted()) === n, 10_000, `${n} prefetched keyed tasks`);
    }
    releaseBlockers();
    for (const id of ids) await job.result(id);
    await worker.stop();
    const slow = runs.filter((run) => run.n < 100).sort((x, y) => x.at - y.at);
    assert.equal(slow.length, 3);
    for (let i = 1; i < slow.length; i += 1) {
      const previous = slow[i - 1];
      const current = slow[i];
      assert.ok(previous !== undefined && current !== undefined);
      assert.ok(current.at >= previous.end - 5, `key "slow" ran two at once: ${JSON.stringify(slow)}`);
    }
    // The local per-key limit started them one by one: none was refused by
    // the database and given back, as two racing for the key would be.
    assert.deepEqual(
      logger.lines.filter((line) => line.message.includes("gave the task back")),
      [],
    );
  });
});
