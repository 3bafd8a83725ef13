// The next-due timer on virtual time (RxJS TestScheduler): no database, so
// these run in the unit lane (moved from test/timers.test.ts, which checks
// the same timer end to end, on a real worker and database).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { asyncScheduler } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { dueTimer } from "../src/worker/dueTimer.ts";

describe("dueTimer", () => {
  const run = (
    delays: string,
    values: Record<string, number>,
    expected: string,
    fired: Record<string, number>,
  ) =>
    new TestScheduler((actual, wanted) => assert.deepEqual(actual, wanted)).run(
      ({ cold, expectObservable }) => {
        // Inside run(), asyncScheduler runs on virtual time.
        expectObservable(dueTimer(cold(delays, values), asyncScheduler)).toBe(expected, fired);
      },
    );

  it("wakes at the earliest announced time; a later one does not postpone it", () => {
    run("a 9ms b", { a: 30, b: 100 }, "30ms x", { x: 30 });
  });

  it("re-arms for an earlier announcement", () => {
    run("a 9ms b", { a: 100, b: 20 }, "30ms x", { x: 30 });
  });

  it("arms again once the wake-up has fired", () => {
    run("a 49ms b", { a: 10, b: 100 }, "10ms x 139ms y", { x: 10, y: 150 });
  });

  it("wakes at once for a due time already past", () => {
    run("a", { a: 0 }, "x", { x: 0 });
  });
});
