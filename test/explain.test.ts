// ops.explain ("why isn't my task running?") against a real PostgreSQL:
// each situation a pending task can wait in gives its reason, with the
// typed facts and an estimate only when every reason ends by itself; the
// dashboard's task page shows it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { ValidationError, defineJob, serveDashboard, snooze, type WaitReason } from "../src/index.ts";
import { eventually, useDatabase } from "./support/harness.ts";

const Input = t.type({ n: t.number, key: t.union([t.string, t.null]), fail: t.boolean });
const kinds = (reasons: ReadonlyArray<WaitReason>): string[] => reasons.map((reason) => reason.kind);

describe("ops.explain", () => {
  const { connect } = useDatabase("explain");

  it("names every reason a task waits for, blocking ones first, with an estimate only when each ends by itself", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "why",
        input: Input,
        options: { retry: { maxAttempts: 3, initialIntervalMs: 60_000, jitter: 0 } },
        optionsFor: ({ key }) => (key === null ? {} : { concurrencyKey: key, concurrencyLimit: 1 }),
      }),
    );
    const ops = underway.ops;
    const explain = async (id: string) => {
      const why = await ops.explain(id);
      assert.ok(why !== undefined, `task ${id} explained`);
      return why;
    };

    // Nobody works the queue yet.
    const lonely = await job.enqueue({ n: 1, key: null, fail: false });
    const noWorker = await explain(lonely);
    assert.deepEqual(kinds(noWorker.reasons), ["noWorker"]);
    assert.equal(noWorker.runnable, false);
    assert.equal(noWorker.estimatedStartAt, null);
    assert.match(noWorker.summary, /no live worker process works queue why/);

    // A worker whose keyed tasks hold their slot until released.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const worker = job.start(
      async ({ key, fail }) => {
        if (fail) throw new Error("smtp said no");
        if (key !== null) await held;
      },
      { concurrency: 4 },
    );
    try {
      await eventually(
        async () => (await ops.task(lonely))?.state === "succeeded",
        10_000,
        "the lonely task ran",
      );
      assert.deepEqual(kinds((await explain(lonely)).reasons), ["ended"]);

      const holder = await job.enqueue({ n: 2, key: "acct-7", fail: false });
      await eventually(
        async () => (await ops.task(holder))?.state === "in_progress",
        10_000,
        "the holder runs",
      );
      const running = await explain(holder);
      assert.equal(running.state, "in_progress");
      const claimed = running.reasons[0];
      assert.ok(claimed?.kind === "claimed" && claimed.started && claimed.workerId !== null);
      assert.ok(claimed.leaseExpiresAt instanceof Date);

      const waiting = await job.enqueue({ n: 3, key: "acct-7", fail: false });
      await eventually(
        async () => kinds((await explain(waiting)).reasons).includes("keyFull"),
        5_000,
        "the second task of the key waits",
      );
      const full = await explain(waiting);
      assert.equal(full.state, "pending");
      const keyFull = full.reasons.find((reason) => reason.kind === "keyFull");
      assert.ok(keyFull?.kind === "keyFull");
      assert.deepEqual([keyFull.key, keyFull.limit, keyFull.heldBy], ["acct-7", 1, [holder]]);
      assert.equal(full.runnable, false);
      assert.equal(full.estimatedStartAt, null, "no estimate: a key frees when its holder ends");
      assert.match(full.summary, /key "acct-7" is full/);

      // Delayed: due in a minute, estimated then.
      const later = await job.enqueue({ n: 4, key: null, fail: false }, { delayMs: 60_000 });
      const delayed = await explain(later);
      assert.deepEqual(kinds(delayed.reasons), ["delayed"]);
      const due = delayed.reasons[0];
      assert.ok(due?.kind === "delayed");
      assert.equal(delayed.estimatedStartAt?.getTime(), due.until.getTime());
      assert.ok(due.until.getTime() - delayed.at.getTime() > 55_000);

      // A failed attempt waits out its backoff; the reason carries the error.
      const failing = await job.enqueue({ n: 5, key: null, fail: true });
      await eventually(
        async () => kinds((await explain(failing)).reasons).includes("backoff"),
        10_000,
        "the first attempt failed",
      );
      const backoff = (await explain(failing)).reasons[0];
      assert.ok(backoff?.kind === "backoff");
      assert.equal(backoff.attempt, 1);
      assert.match(backoff.message, /attempt 1 of 3 failed.*smtp said no/);

      // Paused: first among the reasons; tasks ahead in claim order are counted.
      await ops.pause("why");
      const ahead = await job.enqueueMany([10, 11, 12].map((n) => ({ n, key: null, fail: false })));
      const last = await job.enqueue({ n: 13, key: null, fail: false });
      await job.enqueue({ n: 14, key: null, fail: false }, { priority: 5 });
      const paused = await explain(last);
      assert.deepEqual(kinds(paused.reasons), ["paused", "queued"]);
      const queued = paused.reasons[1];
      assert.ok(queued?.kind === "queued");
      assert.equal(queued.ahead, ahead.length + 1, "three older tasks and one of higher priority");
      assert.equal(queued.aheadAtLeast, false);
      assert.equal(paused.estimatedStartAt, null);
      await ops.resume("why");
      await eventually(async () => (await ops.task(last))?.state === "succeeded", 10_000, "resumed");

      // Cancel requested while running: said first.
      await ops.cancel({ ids: [holder] });
      assert.deepEqual(kinds((await explain(holder)).reasons), ["cancelRequested", "claimed"]);

      // The page shows it (the dashboard reads ops.explain).
      const dashboard = await serveDashboard(underway);
      try {
        const page = await (await fetch(`http://127.0.0.1:${dashboard.port}/tasks/${waiting}`)).text();
        assert.match(page, /id="task-why"/);
        assert.match(page, /key &quot;acct-7&quot; is full|key "acct-7" is full/);
      } finally {
        await dashboard.close();
      }
    } finally {
      release();
      await worker.stop();
    }

    assert.equal(await ops.explain("999999999"), undefined);
    await assert.rejects(ops.explain("1; drop table task"), ValidationError);
  });

  it("names a spent rate budget, a key's or the queue's own, and when it frees, as the rate limit's own view has it", async () => {
    const underway = await connect();
    const ops = underway.ops;
    const job = underway.job(
      defineJob({
        queue: "why_rate",
        input: t.type({ token: t.union([t.string, t.null]), n: t.number }),
        optionsFor: ({ token }) => (token === null ? {} : { rateLimitKey: token }),
      }),
    );
    const keyed = await job.enqueueMany([1, 2, 3].map((n) => ({ token: "tok-9", n })));
    const own = await job.enqueueMany([1, 2, 3].map((n) => ({ token: null, n })));
    // Before any start: no budget is spent.
    assert.ok(!kinds((await ops.explain(keyed[2] ?? ""))?.reasons ?? []).includes("rateSpent"));
    await ops.setRateLimit("why_rate", { limit: 2, periodMs: 60_000 });
    const drained = await job.drain(async () => null);
    assert.equal(drained.ran, 4, "two starts per budget, then each is spent");

    const info = await ops.rateLimit("why_rate");
    for (const [id, key] of [
      [keyed[2], "tok-9"],
      [own[2], null],
    ] as const) {
      const why = await ops.explain(id ?? "");
      assert.ok(why !== undefined);
      assert.deepEqual(kinds(why.reasons), ["rateSpent", "noWorker"]);
      const spent = why.reasons[0];
      assert.ok(spent?.kind === "rateSpent");
      assert.deepEqual([spent.key, spent.limit, spent.periodMs, spent.used], [key, 2, 60_000, 2]);
      const frees = key === null ? info.nextStartAt : info.keys.find((use) => use.key === key)?.nextStartAt;
      assert.equal(spent.until.getTime(), frees?.getTime(), "the time the rate limit's view gives");
      assert.ok(spent.until.getTime() - why.at.getTime() > 50_000);
      assert.match(
        spent.message,
        key === null
          ? /^rate budget of queue why_rate spent until \S+ \(in \d+ s\): 2 of 2 start\(s\) in the last 1m$/
          : /^rate budget of key "tok-9" spent until /,
      );
      assert.equal(why.summary, spent.message);
    }

    // The dashboard's task page lists it as it lists every reason.
    const dashboard = await serveDashboard(underway);
    try {
      const page = await (await fetch(`http://127.0.0.1:${dashboard.port}/tasks/${keyed[2]}`)).text();
      assert.match(
        page,
        /<li data-kind="rateSpent"><strong>rateSpent<\/strong>: rate budget of key (&quot;|")tok-9/,
      );
    } finally {
      await dashboard.close();
    }

    // A looser limit frees it at once: no longer a reason.
    await ops.setRateLimit("why_rate", { limit: 10, periodMs: 60_000 });
    assert.deepEqual(kinds((await ops.explain(keyed[2] ?? ""))?.reasons ?? []), ["noWorker"]);
  });

  it("names a group waiting its turn: the groups with pending tasks before it in the rotation, and its weight", async () => {
    const underway = await connect();
    const ops = underway.ops;
    const job = underway.job(
      defineJob({
        queue: "why_fair",
        input: t.type({ tenant: t.string, n: t.number }),
        optionsFor: ({ tenant }) => (tenant === "" ? {} : { group: tenant }),
      }),
    );
    /** [groups ahead, weight] of a task's groupTurn reason; [0, 0] when it has none. */
    const turnOf = async (id: string | undefined) => {
      const why = await ops.explain(id ?? "");
      const turn = why?.reasons.find((reason) => reason.kind === "groupTurn");
      return turn?.kind === "groupTurn" ? [turn.groupsAhead, turn.weight] : [0, 0];
    };
    const [a1, b1, b2, c1, c2, d1] = await job.enqueueMany([
      { tenant: "a", n: 1 },
      { tenant: "b", n: 1 },
      { tenant: "b", n: 2 },
      { tenant: "c", n: 1 },
      { tenant: "c", n: 2 },
      { tenant: "d", n: 1 },
    ]);
    await ops.setGroupWeight("why_fair", "b", 2);
    // No turn taken yet: groups go by key.
    assert.deepEqual(await turnOf(d1), [3, 1]);
    assert.deepEqual(await turnOf(b1), [1, 2]);
    assert.deepEqual(await turnOf(a1), [0, 0]);
    // Its own group's tasks ahead are the queued reason, named by the group.
    const second = await ops.explain(c2 ?? "");
    const queued = second?.reasons.find((reason) => reason.kind === "queued");
    assert.ok(queued?.kind === "queued" && queued.ahead === 1);
    assert.match(queued.message, /1 due task\(s\) of group "c" are claimed before it/);
    const turn = second?.reasons.find((reason) => reason.kind === "groupTurn");
    assert.match(
      turn?.message ?? "",
      /^group "c" is waiting its turn: 2 group\(s\) with pending tasks take theirs first; it takes 1 task\(s\) a turn/,
    );

    // Tasks without a group are one more group, first in key order.
    const plain = await job.enqueue({ tenant: "", n: 0 });
    assert.deepEqual(await turnOf(a1), [1, 1]);
    assert.deepEqual(await turnOf(d1), [4, 1]);

    // One task a claim: the rotation moves on, and those after the last turn go first.
    await job.runOnce(async () => null); // the tasks without a group
    assert.equal((await ops.task(plain))?.state, "succeeded");
    assert.deepEqual(await turnOf(d1), [3, 1]);
    await job.runOnce(async () => null); // a
    assert.deepEqual(await turnOf(d1), [2, 1]);
    await job.runOnce(async () => null); // b, the first of its turn of two
    assert.equal((await ops.task(b1 ?? ""))?.state, "succeeded");
    // b's turn is unfinished: it goes on first, so b has no group ahead and c has b.
    assert.deepEqual(await turnOf(b2), [0, 0]);
    assert.deepEqual(await turnOf(c1), [1, 1]);
    assert.deepEqual(await turnOf(d1), [2, 1]);
  });

  it("a snoozed task: snoozed until when, how many times; a deadline: must start by when, and once passed, never", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "why_snooze", input: Input }));
    const ops = underway.ops;
    const id = await job.enqueue({ n: 1, key: null, fail: false });
    for (const delay of [0, 0, 90_000]) await job.runOnce(async () => snooze(delay));
    const snoozed = await ops.explain(id);
    const reason = snoozed?.reasons.find((r) => r.kind === "snoozed");
    assert.ok(reason?.kind === "snoozed", JSON.stringify(snoozed?.reasons));
    assert.equal(reason.snoozes, 3);
    // No worker runs this queue (runOnce only): that is said too, and withholds the estimate.
    assert.deepEqual(kinds(snoozed?.reasons ?? []), ["snoozed", "noWorker"]);
    assert.match(
      snoozed?.summary ?? "",
      /its handler snoozed it until .* \(in 90 s\); 3 snooze\(s\) so far, no attempt spent/,
    );
    assert.ok(!kinds(snoozed?.reasons ?? []).includes("delayed"));

    const startBy = new Date(Date.now() + 60_000);
    const bound = await job.enqueue({ n: 2, key: null, fail: false }, { startBy });
    const deadline = (await ops.explain(bound))?.reasons.find((r) => r.kind === "deadline");
    assert.ok(deadline?.kind === "deadline" && !deadline.passed);
    // Like runAt, a time turned into a span from now, applied on the database clock.
    assert.ok(Math.abs(deadline.startBy.getTime() - startBy.getTime()) < 100);
    assert.match(deadline.message, /it must start by .* \(in 60 s\), or it is cancelled instead/);

    const late = await job.enqueue({ n: 3, key: null, fail: false }, { startWithinMs: 1 });
    await eventually(
      async () => (await ops.explain(late))?.reasons[0]?.kind === "deadline",
      5_000,
      "the deadline passed",
    );
    const missed = await ops.explain(late);
    assert.equal(missed?.runnable, false);
    assert.match(missed?.summary ?? "", /it was not started by its deadline, .* it never starts/);
  });
});
