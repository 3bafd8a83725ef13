// The worker's stream logic on virtual time (RxJS TestScheduler): when it
// wakes, claims, starts, renews and stops. No database: each stage is a
// pure function of its inputs and the scheduler. The real-database tests
// (worker, timers, fencing, concurrencyKey...) cover the same paths end to end.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NEVER, Subject, map, of, take, tap, timer, type Observable } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { Deadlines } from "../src/worker/deadlines.ts";
import { throttle } from "../src/worker/throttle.ts";
import { renewalTick$ } from "../src/worker/lease.ts";
import { upkeep$ } from "../src/worker/upkeep.ts";
import { stopTask } from "../src/worker/execute.ts";
import { silentLogger } from "../src/log.ts";
import { LocalTasks } from "../src/worker/localTasks.ts";
import { alongside, graceOver$ } from "../src/worker/shutdown.ts";
import { sweep$ } from "../src/maintenance/sweep.ts";
import { freedEnough$, wake$ } from "../src/worker/wake.ts";
import type { ClaimedRow } from "../src/db/claimQueries.ts";

// One scheduler per test: stages take it explicitly, as the worker passes its own.
let current: TestScheduler | undefined;
const ts = (): TestScheduler => {
  current = new TestScheduler((actual, wanted) => assert.deepEqual(actual, wanted));
  return current;
};
const virtual = (): TestScheduler => {
  if (current === undefined) throw new Error("no TestScheduler running");
  return current;
};

interface Item {
  readonly id: string;
  readonly key: string | null;
  readonly limit: number;
  readonly ms: number;
}

const keyOf = { key: (item: Item) => item.key, limit: (item: Item) => item.limit };

const rowOf = (id: string, heartbeatMs: number): ClaimedRow =>
  ({ id, heartbeatMs, concurrencyKey: null, concurrencyLimit: 1 }) as unknown as ClaimedRow;

describe("worker streams on virtual time", () => {
  it("runs at most a key's limit of its tasks at once, without holding up other keys, within the global limit", () => {
    ts().run(({ hot, expectObservable }) => {
      const items: Record<string, Item> = {
        a: { id: "a", key: "k", limit: 1, ms: 10 },
        b: { id: "b", key: "k", limit: 1, ms: 10 },
        c: { id: "c", key: null, limit: 1, ms: 10 },
        d: { id: "d", key: "j", limit: 2, ms: 10 },
        e: { id: "e", key: "j", limit: 2, ms: 10 },
      };
      const run = (item: Item): Observable<Observable<string>> => timer(item.ms).pipe(map(() => of(item.id)));
      // Global limit 3. a, c and d start at 0; b waits for a (its key), e
      // for a free slot (its key has room). At 10 both start.
      const source = hot("(abcde)", items);
      expectObservable(source.pipe(throttle(keyOf, 3, run))).toBe("10ms (acd) 5ms (eb)");
    });
  });

  it("lets a key with a higher limit run that many at once", () => {
    ts().run(({ hot, expectObservable }) => {
      const items: Record<string, Item> = {
        a: { id: "a", key: "k", limit: 2, ms: 10 },
        b: { id: "b", key: "k", limit: 2, ms: 10 },
        c: { id: "c", key: "k", limit: 2, ms: 10 },
      };
      const run = (item: Item) => timer(item.ms).pipe(map(() => of(item.id)));
      expectObservable(hot("(abc|)", items).pipe(throttle(keyOf, 10, run))).toBe("10ms (ab) 6ms (c|)");
    });
  });

  it("frees the global slot when the handler ends, and a key's slot only once its verdict is written", () => {
    ts().run(({ hot, expectObservable }) => {
      const items: Record<string, Item> = {
        a: { id: "a", key: null, limit: 1, ms: 10 },
        b: { id: "b", key: null, limit: 1, ms: 10 },
        c: { id: "c", key: "k", limit: 1, ms: 10 },
        d: { id: "d", key: "k", limit: 1, ms: 10 },
      };
      // Each handler takes 10 frames, then its write 20 more.
      const run = (item: Item) => timer(item.ms).pipe(map(() => timer(20).pipe(map(() => item.id))));
      // Global limit 1: b starts at 10 while a's write runs, so both are
      // written by 40. c starts at 20, d (same key) only once c is written at 50.
      expectObservable(hot("(abcd|)", items).pipe(throttle(keyOf, 1, run))).toBe(
        "30ms a 9ms b 9ms c 29ms (d|)",
      );
    });
  });

  it("renews a lease a third through, on a tick that follows the shortest lease", () => {
    ts().run(({ hot, expectObservable }) => {
      // Default tick 500 ms; a 200 ms lease makes it tick every 50 ms.
      const leases = hot("100ms a", { a: 200 });
      const ticks = renewalTick$(leases, 500, virtual()).pipe(map(() => "t"));
      // The tick restarts at 100 ms with the shorter period.
      expectObservable(ticks, "^ 300ms !").toBe("100ms 50ms t 49ms t 49ms t 49ms t");
    });
    const tasks = new LocalTasks();
    tasks.hold(rowOf("1", 300), 0);
    tasks.hold(rowOf("2", 3_000), 0);
    assert.deepEqual(
      tasks.dueForRenewal(99).map((task) => task.row.id),
      [],
    );
    assert.deepEqual(
      tasks.dueForRenewal(100).map((task) => task.row.id),
      ["1"],
    );
    assert.deepEqual(
      tasks.dueForRenewal(1_000).map((task) => task.row.id),
      ["1", "2"],
    );
  });

  it("gives back only prefetched tasks held past their time limit, never started ones", () => {
    const tasks = new LocalTasks();
    const old = tasks.hold(rowOf("old", 30_000), 0);
    const young = tasks.hold(rowOf("young", 30_000), 4_000);
    const started = tasks.hold(rowOf("started", 30_000), 0);
    started.started = true;
    const given = tasks.takeUnstarted((task) => 5_000 - task.claimedAt >= 5_000);
    assert.deepEqual(
      given.map((task) => task.row.id),
      ["old"],
    );
    assert.equal(tasks.holds(old), false);
    assert.equal(tasks.holds(young), true);
    assert.equal(tasks.holds(started), true);
  });

  it("wakes on NOTIFY, the poll (once LISTEN is up), reconnects, due times and freed capacity", () => {
    ts().run(({ hot, cold, expectObservable }) => {
      const wakes = wake$(
        {
          notified$: hot("---n", { n: "n" }),
          // LISTEN becomes active at once; the poll ticks every 100 ms.
          listening: () => Promise.resolve(),
          reconnected$: hot("-----r", { r: undefined }),
          dueIn$: cold("a", { a: 40 }),
          freed$: hot("-------f", { f: undefined }),
          pollIntervalMs: 100,
        },
        virtual(),
      ).pipe(map((value) => (typeof value === "number" ? "d" : value === undefined ? "u" : String(value))));
      // The poll's first tick waits for the listening promise (a microtask),
      // which virtual time does not run: it is covered by the database tests.
      expectObservable(wakes, "^ 60ms !").toBe("---n-u-u 32ms d");
    });
  });

  it("wakes on freed capacity only once enough is free", () => {
    ts().run(({ hot, expectObservable }) => {
      let free = 0;
      const ended = hot("-a-b-c").pipe(tap(() => (free += 1)));
      expectObservable(
        freedEnough$(
          ended,
          () => free,
          () => 5,
          2,
        ),
      ).toBe("---b-c");
    });
  });

  it("stops gracefully: work that ends within the grace period is not cut off", () => {
    ts().run(({ hot, cold, expectObservable }) => {
      const aborted: number[] = [];
      const stop = hot("--s");
      const work = cold("----(o|)");
      const grace = graceOver$(stop, 10, virtual()).pipe(tap(() => aborted.push(1)));
      expectObservable(alongside(work, grace)).toBe("----(o|)");
      assert.deepEqual(aborted, []);
    });
  });

  it("stops gracefully: past the grace period the running tasks' signals fire, then the worker completes", () => {
    ts().run(({ hot, expectObservable, flush }) => {
      const stop = hot("--s");
      const abort = new Subject<void>();
      // A task that only ends once aborted.
      const finished = abort.pipe(
        map(() => "o"),
        take(1),
      );
      const grace = graceOver$(stop, 10, virtual()).pipe(tap(() => abort.next()));
      expectObservable(alongside(finished, grace)).toBe("12ms (o|)");
      flush();
    });
  });

  it("sweeps at the interval asked for and never overlaps a slow run", () => {
    ts().run(({ hot, cold, expectObservable }) => {
      const runs: string[] = [];
      // Every 10 ms; each run takes 15, so every other tick is swallowed.
      const sweeps = sweep$(hot("i", { i: 10 }), virtual(), () =>
        cold("---------------(r|)", { r: "r" }).pipe(tap({ subscribe: () => runs.push("run") })),
      );
      expectObservable(sweeps, "^ 50ms !").toBe("15ms r 19ms r");
      // No interval asked for (the last worker stopped): no sweep.
      expectObservable(
        sweep$(of(Number.POSITIVE_INFINITY), virtual(), () => of("r")),
        "^ 50ms !",
      ).toBe("|");
    });
  });

  it("times handlers out on one timer: each at its own deadline, none once cancelled, none left armed", () => {
    ts().run(({ flush }) => {
      const scheduler = virtual();
      const deadlines = new Deadlines(scheduler);
      const fired: string[] = [];
      const at = (name: string) => () => fired.push(`${name}@${scheduler.now()}`);
      deadlines.after(100, at("a"));
      const cancelB = deadlines.after(100, at("b"));
      scheduler.schedule(() => {
        deadlines.after(100, at("c")); // due at 130
        deadlines.after(20, at("d")); // a shorter length, due at 50, before a's 100
        cancelB();
      }, 30);
      flush();
      assert.deepEqual(fired, ["d@50", "a@100", "c@130"]);
      // Cancelling the only one left disarms the timer: nothing fires, and
      // nothing is left to keep a process alive.
      const cancelE = deadlines.after(1_000, at("e"));
      cancelE();
      assert.equal(scheduler.actions.length, 0);
      flush();
      assert.deepEqual(fired, ["d@50", "a@100", "c@130"]);
    });
  });

  it("keeps held tasks as runOnce and drain do: a cancel announced for one fires its signal; a shutdown abandons it, stops the others", () => {
    const tasks = new LocalTasks();
    const a = tasks.hold(rowOf("a", 60_000), 0);
    const b = tasks.hold(rowOf("b", 60_000), 0);
    ts().run(({ hot, flush }) => {
      const scheduler = virtual();
      const channels: string[] = [];
      const cancels = hot("10ms x 10ms y", { x: "not held", y: "a" });
      // Leases a minute long: no renewal falls due in these 100 ms, so
      // nothing reaches the database (there is none here).
      const deps = {
        store: undefined as never,
        schema: "s",
        pool: undefined as never,
        log: silentLogger,
        listener: {
          channel$: (channel: string) => {
            channels.push(channel);
            return cancels;
          },
        },
        heartbeatTickMs: 500,
        scheduler,
      };
      const running = upkeep$(deps, tasks, NEVER).subscribe();
      scheduler.schedule(() => running.unsubscribe(), 100);
      flush();
      assert.deepEqual(channels, ["s.cancel"]);
    });
    assert.equal(a.abort.reason?.kind, "cancelled");
    assert.equal(b.abort.aborted, false);
    stopTask(a);
    stopTask(b);
    assert.equal(a.abandon.aborted, true, "a cancelled handler is no longer waited for");
    assert.equal(b.abort.reason?.kind, "shutdown");
    assert.equal(b.abandon.aborted, false);
  });
});
