// ops.explain's reasoning over a task's facts, without a database: which
// reasons come first, when an estimate is given, and when it is withheld.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ExplainRow } from "../src/db/opsQueries.ts";
import { explainAheadBound, explanationOf, unknownEstimateText } from "../src/ops/explain.ts";

const now = new Date("2026-12-04T12:00:00.000Z");
const later = (ms: number) => new Date(now.getTime() + ms);

/** A due pending task of queue q with a live worker and nothing ahead. */
const facts = (changes: Partial<ExplainRow> = {}): ExplainRow => ({
  id: "7",
  queue: "q",
  state: "pending",
  attempt: 0,
  maxAttempts: 3,
  priority: 0,
  runAt: later(-1_000),
  startedAt: null,
  finishedAt: null,
  concurrencyKey: null,
  concurrencyLimit: 1,
  workerId: null,
  leaseExpiresAt: null,
  cancelRequestedAt: null,
  error: null,
  now,
  debounceKey: null,
  pausedAt: null,
  keyHolders: null,
  keyLeaseExpiresAt: null,
  ahead: 0,
  rateKey: null,
  rateLimit: null,
  ratePeriodMs: null,
  rateFreeAt: null,
  rateUsed: null,
  group: null,
  groupWeight: null,
  groupsAhead: null,
  liveWorkers: 1,
  lastWorkerSeenAt: now,
  perSecond: 0,
  startBy: null,
  snoozes: 0,
  snoozedUntil: null,
  ...changes,
});

describe("ops.explain's reasoning", () => {
  it("a debounced task not yet due names its key, whose enqueues push its start back", () => {
    const why = explanationOf(facts({ runAt: later(400), debounceKey: "doc:1" }));
    const delayed = why.reasons.find((reason) => reason.kind === "delayed");
    assert.ok(delayed !== undefined && delayed.kind === "delayed");
    assert.equal(delayed.debounceKey, "doc:1");
    assert.match(delayed.message, /debounced: each enqueue of key "doc:1" pushes its start back/);
  });

  it("a due task with nothing ahead is runnable now", () => {
    const why = explanationOf(facts());
    assert.deepEqual([why.runnable, why.reasons.length, why.estimatedStartAt], [true, 0, now]);
    assert.match(why.summary, /next claim/);
  });

  it("tasks ahead: estimated at the queue's throughput, withheld without throughput or past the bound", () => {
    const queued = explanationOf(facts({ ahead: 50, perSecond: 10 }));
    assert.equal(queued.runnable, true);
    assert.deepEqual(queued.estimatedStartAt, later(5_000));
    assert.equal(explanationOf(facts({ ahead: 50, perSecond: 0 })).estimatedStartAt, null);
    const many = explanationOf(facts({ ahead: explainAheadBound + 1, perSecond: 1_000 }));
    const reason = many.reasons[0];
    assert.ok(reason?.kind === "queued" && reason.aheadAtLeast && reason.ahead === explainAheadBound);
    assert.equal(many.estimatedStartAt, null);
  });

  it("a backoff ends by itself; with a pause, a full key or no worker too, no estimate", () => {
    const backoff = explanationOf(facts({ attempt: 1, runAt: later(30_000), error: "boom" }));
    assert.deepEqual(backoff.estimatedStartAt, later(30_000));
    assert.equal(backoff.runnable, false);
    for (const blocker of [
      { pausedAt: later(-60_000) },
      { concurrencyKey: "k", keyHolders: ["3"], concurrencyLimit: 1 },
      { liveWorkers: 0 },
    ]) {
      const why = explanationOf(facts({ attempt: 1, runAt: later(30_000), ...blocker }));
      assert.equal(why.estimatedStartAt, null, JSON.stringify(blocker));
      assert.deepEqual(
        why.reasons.map((r) => r.kind).sort(),
        [
          "backoff",
          Object.hasOwn(blocker, "pausedAt")
            ? "paused"
            : "concurrencyKey" in blocker
              ? "keyFull"
              : "noWorker",
        ].sort(),
      );
    }
  });

  it("a key below its limit is no reason; running and ended tasks get no estimate", () => {
    assert.equal(
      explanationOf(facts({ concurrencyKey: "k", keyHolders: ["3"], concurrencyLimit: 2 })).runnable,
      true,
    );
    const running = explanationOf(
      facts({ state: "in_progress", workerId: "w", startedAt: now, leaseExpiresAt: later(30_000) }),
    );
    assert.deepEqual(
      [running.reasons[0]?.kind, running.estimatedStartAt, running.runnable],
      ["claimed", null, false],
    );
    const ended = explanationOf(facts({ state: "succeeded", finishedAt: now }));
    assert.deepEqual(
      ended.reasons.map((r) => r.kind),
      ["ended"],
    );
  });

  it("a spent rate budget holds it until it frees, named by its key or its queue, and ends by itself", () => {
    const spent = { rateLimit: 10, ratePeriodMs: 60_000, rateUsed: 10, rateFreeAt: later(12_000) };
    const keyed = explanationOf(facts({ ...spent, rateKey: "token-9" }));
    const reason = keyed.reasons[0];
    assert.ok(reason?.kind === "rateSpent");
    assert.deepEqual(
      [reason.key, reason.limit, reason.periodMs, reason.used, reason.until],
      ["token-9", 10, 60_000, 10, later(12_000)],
    );
    assert.equal(
      reason.message,
      `rate budget of key "token-9" spent until ${later(12_000).toISOString()} (in 12 s): 10 of 10 start(s) in the last 1m`,
    );
    assert.equal(keyed.runnable, false);
    assert.deepEqual(keyed.estimatedStartAt, later(12_000));
    assert.equal(keyed.summary, reason.message);
    const own = explanationOf(facts(spent));
    assert.match(own.summary, /^rate budget of queue q spent until /);
    // A budget with room (free in the past, or never used) is no reason.
    assert.equal(explanationOf(facts({ ...spent, rateFreeAt: later(-1) })).reasons.length, 0);
    assert.equal(explanationOf(facts({ ...spent, rateFreeAt: null })).reasons.length, 0);
    // Freed before the task falls due: the delay is the only reason.
    const delayed = explanationOf(facts({ ...spent, runAt: later(30_000) }));
    assert.deepEqual(
      delayed.reasons.map((r) => r.kind),
      ["delayed"],
    );
    // Still spent when it falls due: both, and the later end is the estimate.
    const both = explanationOf(facts({ ...spent, rateFreeAt: later(90_000), runAt: later(30_000) }));
    assert.deepEqual(
      both.reasons.map((r) => r.kind),
      ["delayed", "rateSpent"],
    );
    assert.deepEqual(both.estimatedStartAt, later(90_000));
  });

  it("a grouped task waits its group's turn: the groups ahead and its weight, runnable, estimated at the queue's pace", () => {
    const grouped = { group: "acme", groupWeight: 3, groupsAhead: 4, ahead: 2, perSecond: 2 };
    const why = explanationOf(facts(grouped));
    assert.deepEqual(
      why.reasons.map((r) => r.kind),
      ["groupTurn", "queued"],
    );
    const turn = why.reasons[0];
    assert.ok(turn?.kind === "groupTurn");
    assert.deepEqual(
      [turn.group, turn.groupsAhead, turn.groupsAheadAtLeast, turn.weight],
      ["acme", 4, false, 3],
    );
    assert.equal(
      turn.message,
      'group "acme" is waiting its turn: 4 group(s) with pending tasks take theirs first; it takes 3 task(s) a turn (its weight)',
    );
    assert.match(why.reasons[1]?.message ?? "", /^2 due task\(s\) of group "acme" are claimed before it/);
    assert.equal(why.runnable, true);
    assert.deepEqual(why.estimatedStartAt, later(2_000));
    // Its group's turn next: no reason; past the bound: "at least", no estimate.
    assert.equal(explanationOf(facts({ ...grouped, groupsAhead: 0, ahead: 0 })).reasons.length, 0);
    const many = explanationOf(facts({ ...grouped, groupsAhead: explainAheadBound + 1 }));
    const bounded = many.reasons[0];
    assert.ok(bounded?.kind === "groupTurn" && bounded.groupsAheadAtLeast);
    assert.equal(bounded.groupsAhead, explainAheadBound);
    assert.equal(many.estimatedStartAt, null);
  });

  it("a snoozed task says until when and how many snoozes, not a backoff; it ends by itself", () => {
    const why = explanationOf(facts({ snoozes: 3, runAt: later(60_000), snoozedUntil: later(60_000) }));
    const reason = why.reasons[0];
    assert.ok(reason?.kind === "snoozed" && reason.snoozes === 3);
    assert.deepEqual(
      [reason.until, why.estimatedStartAt, why.runnable],
      [later(60_000), later(60_000), false],
    );
    assert.match(
      why.summary,
      /snoozed it until 2026-12-04T12:01:00\.000Z .*3 snooze\(s\) so far, no attempt spent/,
    );
    // A retry's backoff after an earlier snooze is a backoff: the snooze's end is not its due time.
    const retried = explanationOf(
      facts({ attempt: 1, snoozes: 3, runAt: later(5_000), snoozedUntil: later(-9_000), error: "boom" }),
    );
    assert.deepEqual(
      retried.reasons.map((r) => r.kind),
      ["backoff"],
    );
  });

  it("a deadline ahead holds nothing back; one passed blocks for good, first", () => {
    const ahead = explanationOf(facts({ startBy: later(60_000) }));
    assert.deepEqual(
      [ahead.runnable, ahead.estimatedStartAt, ahead.reasons.map((r) => r.kind)],
      [true, now, ["deadline"]],
    );
    assert.match(
      ahead.summary,
      /must start by 2026-12-04T12:01:00\.000Z \(in 60 s\), or it is cancelled instead/,
    );
    const passed = explanationOf(facts({ startBy: later(-2_000), liveWorkers: 0 }));
    const first = passed.reasons[0];
    assert.ok(first?.kind === "deadline" && first.passed);
    assert.deepEqual([passed.runnable, passed.estimatedStartAt], [false, null]);
    assert.match(passed.summary, /not started by its deadline, 2 s ago .*never starts/);
    // Once started, a deadline is gone (the claim clears it); running tasks name none.
    const running = explanationOf(
      facts({ state: "in_progress", workerId: "w", startedAt: now, startBy: null }),
    );
    assert.ok(running.reasons.every((r) => r.kind !== "deadline"));
  });

  it("an unknown estimate says why: a reason with no end, or no pace to time the tasks ahead", () => {
    const noPace = explanationOf(
      facts({ group: "acme", groupWeight: 1, groupsAhead: 2, ahead: 1, perSecond: 0 }),
    );
    assert.equal(noPace.estimatedStartAt, null);
    assert.equal(
      unknownEstimateText(noPace),
      "no attempt of its queue ended in the last five minutes to time the wait from",
    );
    const tooMany = explanationOf(facts({ ahead: explainAheadBound + 1, perSecond: 1_000 }));
    assert.equal(
      unknownEstimateText(tooMany),
      `more than ${explainAheadBound} tasks or groups ahead to time the wait`,
    );
    const paused = explanationOf(facts({ pausedAt: later(-60_000), ahead: 1, perSecond: 0 }));
    assert.equal(unknownEstimateText(paused), "a reason above has no known end");
  });
});
