// The worker's fetch side as a state machine (src/worker/workerState.ts),
// transition by transition, and its loop (src/worker/workerLoop.ts) on
// virtual time. No database: the machine is pure, and the loop's effects are
// played here by cold Observables.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { filter, map, merge, mergeMap, tap, type Observable } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { workerLoop, type WorkerLoop } from "../src/worker/workerLoop.ts";
import {
  freedThreshold,
  heedsWake,
  initialState,
  isRunning,
  prefetchAt,
  startableOf,
  transition,
  wantOf,
  type Snapshot,
  type Step,
  type WorkerEffect,
  type WorkerEvent,
  type WorkerMode,
  type WorkerState,
} from "../src/worker/workerState.ts";

type Row = string;
type Task = string;
type Event = WorkerEvent<Row, Task>;
type Effect = WorkerEffect<Row, Task>;

const limits = { concurrency: 10, prefetch: 100, prefetchHoldMs: 5_000 };
const t0 = 1_000;
const at = (load: Partial<Snapshot> = {}): Snapshot => ({ now: t0, held: 0, writing: 0, ...load });
const inMode = (mode: WorkerMode, rest: Partial<WorkerState> = {}): WorkerState => ({
  ...initialState(limits),
  mode,
  ...rest,
});
const kinds = (step: Step<Row, Task>): string[] => step.effects.map((effect) => effect.kind);
const go = (state: WorkerState, event: Event, snapshot: Snapshot = at()): Step<Row, Task> =>
  transition(state, event, snapshot);

// Every mode, and every event, for the exhaustive checks.
const modes: Record<string, WorkerMode> = {
  idle: { kind: "idle" },
  claiming: { kind: "claiming", since: 900, again: false },
  claimingAgain: { kind: "claiming", since: 900, again: true },
  registering: { kind: "registering", since: 900, again: false },
  unregistering: { kind: "unregistering", again: true },
  stoppingClaim: { kind: "stopping", awaiting: "claim" },
  stoppingRegister: { kind: "stopping", awaiting: "register" },
  stoppingUnregister: { kind: "stopping", awaiting: "unregister" },
  stoppingRelease: { kind: "stopping", awaiting: "release" },
  leaving: { kind: "leaving" },
  givingBack: { kind: "givingBack" },
  finishing: { kind: "finishing" },
  drainingWrites: { kind: "drainingWrites" },
  stopped: { kind: "stopped" },
};
const events: Record<string, Event> = {
  woken: { type: "woken" },
  claimedFull: { type: "claimed", rows: ["a", "b"], wanted: 2 },
  claimedSome: { type: "claimed", rows: ["a"], wanted: 2 },
  claimedNone: { type: "claimed", rows: [], wanted: 2 },
  claimedUnasked: { type: "claimed", rows: [], wanted: 0 },
  claimFailed: { type: "claimFailed" },
  registered: { type: "registered", ok: true },
  registerFailed: { type: "registered", ok: false },
  unregistered: { type: "unregistered" },
  stopRequested: { type: "stopRequested" },
  released: { type: "released" },
  givenBack: { type: "givenBack" },
  graceOver: { type: "graceOver" },
  tasksDone: { type: "tasksDone" },
  writesIdle: { type: "writesIdle" },
};

/**
 * Every (mode, event) pair that moves the machine or asks for an effect,
 * with the mode it moves to and the effects, unregistered and with room to
 * claim. Every pair not listed must leave the state as it is and ask for
 * nothing (checked below), so this table is the whole machine, bar the
 * three events that act the same in every mode (tested after it).
 */
const moves: Record<string, Record<string, { readonly to: WorkerMode; readonly effects: string[] }>> = {
  idle: {
    woken: { to: { kind: "claiming", since: t0, again: false }, effects: ["claim"] },
    stopRequested: { to: { kind: "givingBack" }, effects: ["giveBackUnstarted"] },
  },
  claiming: {
    woken: { to: { kind: "claiming", since: 900, again: true }, effects: [] },
    claimedFull: { to: { kind: "claiming", since: t0, again: false }, effects: ["hold", "claim"] },
    claimedSome: { to: { kind: "idle" }, effects: ["hold", "readDue"] },
    claimedNone: { to: { kind: "registering", since: 900, again: false }, effects: ["register"] },
    claimedUnasked: { to: { kind: "idle" }, effects: [] },
    claimFailed: { to: { kind: "idle" }, effects: [] },
    stopRequested: { to: { kind: "stopping", awaiting: "claim" }, effects: [] },
  },
  claimingAgain: {
    claimedFull: { to: { kind: "claiming", since: t0, again: false }, effects: ["hold", "claim"] },
    claimedSome: { to: { kind: "claiming", since: t0, again: false }, effects: ["hold", "readDue", "claim"] },
    claimedNone: { to: { kind: "registering", since: 900, again: true }, effects: ["register"] },
    claimedUnasked: { to: { kind: "claiming", since: t0, again: false }, effects: ["claim"] },
    claimFailed: { to: { kind: "claiming", since: t0, again: false }, effects: ["claim"] },
    stopRequested: { to: { kind: "stopping", awaiting: "claim" }, effects: [] },
  },
  registering: {
    woken: { to: { kind: "registering", since: 900, again: true }, effects: [] },
    // A fresh registration may have raced an insert: claim once more.
    registered: { to: { kind: "claiming", since: t0, again: false }, effects: ["readDue", "claim"] },
    registerFailed: { to: { kind: "idle" }, effects: ["readDue"] },
    stopRequested: { to: { kind: "stopping", awaiting: "register" }, effects: [] },
  },
  unregistering: {
    unregistered: { to: { kind: "claiming", since: t0, again: false }, effects: ["claim"] },
    stopRequested: { to: { kind: "stopping", awaiting: "unregister" }, effects: [] },
  },
  stoppingClaim: {
    claimedFull: { to: { kind: "stopping", awaiting: "release" }, effects: ["release"] },
    claimedSome: { to: { kind: "stopping", awaiting: "release" }, effects: ["release"] },
    claimedNone: { to: { kind: "givingBack" }, effects: ["giveBackUnstarted"] },
    claimedUnasked: { to: { kind: "givingBack" }, effects: ["giveBackUnstarted"] },
    claimFailed: { to: { kind: "givingBack" }, effects: ["giveBackUnstarted"] },
    graceOver: { to: { kind: "stopping", awaiting: "claim" }, effects: ["abortRunning"] },
  },
  stoppingRegister: {
    // Registered as the stop came: unregistered on the way out.
    registered: { to: { kind: "leaving" }, effects: ["unregister"] },
    registerFailed: { to: { kind: "givingBack" }, effects: ["giveBackUnstarted"] },
    graceOver: { to: { kind: "stopping", awaiting: "register" }, effects: ["abortRunning"] },
  },
  stoppingUnregister: {
    unregistered: { to: { kind: "givingBack" }, effects: ["giveBackUnstarted"] },
    graceOver: { to: { kind: "stopping", awaiting: "unregister" }, effects: ["abortRunning"] },
  },
  stoppingRelease: {
    released: { to: { kind: "givingBack" }, effects: ["giveBackUnstarted"] },
    graceOver: { to: { kind: "stopping", awaiting: "release" }, effects: ["abortRunning"] },
  },
  leaving: {
    unregistered: { to: { kind: "givingBack" }, effects: ["giveBackUnstarted"] },
    graceOver: { to: { kind: "leaving" }, effects: ["abortRunning"] },
  },
  givingBack: {
    givenBack: { to: { kind: "finishing" }, effects: ["closeIntake"] },
    graceOver: { to: { kind: "givingBack" }, effects: ["abortRunning"] },
  },
  finishing: {
    tasksDone: { to: { kind: "drainingWrites" }, effects: ["awaitWrites"] },
    graceOver: { to: { kind: "finishing" }, effects: ["abortRunning"] },
  },
  drainingWrites: {
    writesIdle: { to: { kind: "stopped" }, effects: ["complete"] },
    graceOver: { to: { kind: "drainingWrites" }, effects: ["abortRunning"] },
  },
  stopped: {},
};

describe("the worker's state machine, transition by transition", () => {
  for (const [modeName, mode] of Object.entries(modes)) {
    for (const [eventName, event] of Object.entries(events)) {
      const move = moves[modeName]?.[eventName];
      it(`${modeName} + ${eventName}: ${move === undefined ? "stays, asks nothing" : `${move.to.kind} [${move.effects.join(", ")}]`}`, () => {
        const state = inMode(mode);
        const next = go(state, event);
        if (move === undefined) {
          assert.equal(next.state, state);
          assert.deepEqual(kinds(next), []);
        } else {
          assert.deepEqual(next.state.mode, move.to);
          assert.deepEqual(kinds(next), move.effects);
        }
      });
    }
  }

  it("holds the claimed rows, and claims again only if there is room once they are held", () => {
    const state = inMode(modes["claiming"] as WorkerMode);
    const full = go(state, { type: "claimed", rows: ["a", "b"], wanted: 2 }, at({ held: 107 }));
    assert.deepEqual(full.effects[0], { kind: "hold", rows: ["a", "b"] });
    assert.deepEqual(full.state.mode, { kind: "claiming", since: t0, again: false });
    // 108 held plus the 2 = concurrency + prefetch: no room left.
    const noRoom = go(state, { type: "claimed", rows: ["a", "b"], wanted: 2 }, at({ held: 108 }));
    assert.deepEqual(noRoom.state.mode, { kind: "idle" });
    assert.deepEqual(kinds(noRoom), ["hold"]);
  });

  it("reads the next due time looking back to the claim's start", () => {
    const some = go(inMode(modes["claiming"] as WorkerMode), events["claimedSome"] as Event);
    assert.deepEqual(some.effects[1], { kind: "readDue", since: 900 });
    const registered = go(inMode(modes["registering"] as WorkerMode), events["registered"] as Event);
    assert.deepEqual(registered.effects[0], { kind: "readDue", since: 900 });
  });

  it("a wake-up with no room claims nothing; one during a claim is remembered once", () => {
    const idle = inMode({ kind: "idle" });
    const full = go(idle, { type: "woken" }, at({ held: 110 }));
    assert.equal(full.state, idle);
    assert.deepEqual(kinds(full), []);
    const again = go(inMode(modes["claimingAgain"] as WorkerMode), { type: "woken" });
    assert.deepEqual(again.state.mode, modes["claimingAgain"]);
    assert.deepEqual(kinds(again), []);
  });

  it("registers after an empty claim, claims once more only if the registration is new, unregisters after a full one", () => {
    const registering = inMode(modes["registering"] as WorkerMode, { registered: true });
    // Refreshed, not new: no race with an insert to cover.
    const refreshed = go(registering, { type: "registered", ok: true });
    assert.deepEqual(refreshed.state.mode, { kind: "idle" });
    assert.equal(refreshed.state.registered, true);
    const failed = go(registering, { type: "registered", ok: false });
    assert.equal(failed.state.registered, true);
    const fresh = go(inMode(modes["registering"] as WorkerMode), { type: "registered", ok: true });
    assert.equal(fresh.state.registered, true);
    // Registered and a full batch: a busy worker needs no NOTIFY.
    const full = go(
      inMode(modes["claiming"] as WorkerMode, { registered: true }),
      events["claimedFull"] as Event,
    );
    assert.deepEqual(full.state.mode, { kind: "unregistering", again: true });
    assert.equal(full.state.registered, false);
    assert.deepEqual(kinds(full), ["hold", "unregister"]);
    // A partial batch leaves the registration as it is.
    const some = go(
      inMode(modes["claiming"] as WorkerMode, { registered: true }),
      events["claimedSome"] as Event,
    );
    assert.equal(some.state.registered, true);
  });

  it("on the way out, unregisters when registered before giving back", () => {
    const idle = go(inMode({ kind: "idle" }, { registered: true }), { type: "stopRequested" });
    assert.deepEqual(idle.state.mode, { kind: "leaving" });
    assert.equal(idle.state.registered, false);
    assert.deepEqual(kinds(idle), ["unregister"]);
    const claim = go(
      inMode(modes["stoppingClaim"] as WorkerMode, { registered: true }),
      events["claimFailed"] as Event,
    );
    assert.deepEqual(claim.state.mode, { kind: "leaving" });
    const release = go(inMode(modes["stoppingClaim"] as WorkerMode), events["claimedSome"] as Event);
    assert.deepEqual(release.effects, [{ kind: "release", rows: ["a"] }]);
  });

  it("prefetch expiry and a refused start hold prefetch in every mode; expired tasks go back", () => {
    for (const mode of Object.values(modes)) {
      const expired = go(inMode(mode), { type: "prefetchExpired", tasks: ["x"] });
      assert.deepEqual(expired.state.prefetch, { kind: "holding", since: t0 });
      assert.deepEqual(expired.state.mode, mode);
      assert.deepEqual(expired.effects, [{ kind: "giveBack", tasks: ["x"] }]);
      const refused = go(inMode(mode), { type: "startRefused" });
      assert.deepEqual(refused.state.prefetch, { kind: "holding", since: t0 });
      // While running, it reads when the refused task may start (a spent rate budget's next start).
      assert.deepEqual(kinds(refused), isRunning(inMode(mode)) ? ["readDue"] : []);
    }
  });

  it("heeds a wake-up exactly in the modes where one changes something (freed room is filtered by it)", () => {
    for (const [name, mode] of Object.entries(modes)) {
      const state = inMode(mode);
      const next = go(state, { type: "woken" });
      const changes = next.state !== state || next.effects.length > 0;
      assert.equal(heedsWake(state), changes, name);
    }
  });

  it("arms the due timer while running, not once stopping", () => {
    for (const mode of Object.values(modes)) {
      const state = inMode(mode);
      const due = go(state, { type: "dueIn", ms: 40 });
      assert.equal(due.state, state);
      assert.deepEqual(due.effects, isRunning(state) ? [{ kind: "armDue", ms: 40 }] : []);
    }
  });
});

describe("how much the worker claims", () => {
  const running = initialState(limits);

  it("claims room for running and prefetched tasks, those being written not counted, all held under twice that", () => {
    assert.equal(wantOf(running, at()), 110);
    assert.equal(wantOf(running, at({ held: 30 })), 80);
    // 20 being written leave room, up to 2 x 110 held.
    assert.equal(wantOf(running, at({ held: 30, writing: 20 })), 100);
    assert.equal(wantOf(running, at({ held: 200, writing: 190 })), 20);
    assert.equal(wantOf(running, at({ held: 300, writing: 10 })), 0);
  });

  it("claims for free slots only, for prefetchHoldMs after a hold began", () => {
    const holding: WorkerState = { ...running, prefetch: { kind: "holding", since: t0 } };
    assert.equal(prefetchAt(holding, t0 + 5_000), 0);
    assert.equal(wantOf(holding, at({ now: t0 + 5_000, held: 4 })), 6);
    assert.equal(freedThreshold(holding, t0 + 5_000), 5);
    assert.equal(prefetchAt(holding, t0 + 5_001), 100);
    assert.equal(wantOf(holding, at({ now: t0 + 5_001, held: 4 })), 106);
    assert.equal(freedThreshold(running, t0), 55);
  });

  it("starts keyed tasks at claim only for the free slots", () => {
    assert.equal(startableOf(running, { held: 0, writing: 0 }), 10);
    assert.equal(startableOf(running, { held: 14, writing: 6 }), 2);
    assert.equal(startableOf(running, { held: 40, writing: 0 }), 0);
  });

  it("claims nothing once stopping", () => {
    assert.equal(wantOf(inMode({ kind: "leaving" }), at()), 0);
  });
});

// One scheduler per test, as in workerStreams.test.ts.
const virtualTime = (): TestScheduler =>
  new TestScheduler((actual, wanted) => assert.deepEqual(actual, wanted));

/** Plays the loop's effects: `claim` by `claim()`, the others by `others` (default: nothing comes back). */
const play = (
  loop: WorkerLoop<Row, Task>,
  sources: Observable<Event>,
  claim: () => Observable<Event>,
  others: (effect: Effect) => Observable<Event> = () => merge(),
): Observable<Event> =>
  merge(
    loop.effects$.pipe(mergeMap((effect) => (effect.kind === "claim" ? claim() : others(effect)))),
    sources,
  ).pipe(tap(loop.dispatch));

describe("the worker's loop on virtual time", () => {
  it("coalesces wake-ups: one claim at a time, one more for all that came during it", () => {
    const scheduler = virtualTime();
    scheduler.run(({ cold, hot, expectObservable }) => {
      const loop = workerLoop<Row, Task>(limits, () => at({ now: scheduler.now() }));
      // A claim takes 5 frames; wakes at 0, 1, 2, 3 (during the first) and 19.
      const wakes = hot("abcd 15ms e").pipe(map((): Event => ({ type: "woken" })));
      const claim = () =>
        cold("-----(r|)").pipe(map((): Event => ({ type: "claimed", rows: ["x"], wanted: 5 })));
      const claims = loop.effects$.pipe(
        filter((effect) => effect.kind === "claim"),
        map(() => "c"),
      );
      expectObservable(merge(claims, play(loop, wakes, claim).pipe(filter(() => false))), "^ 40ms !").toBe(
        "c 4ms c 13ms c",
      );
    });
  });

  it("claims again at once while batches come back full (a burst drains a backlog)", () => {
    const scheduler = virtualTime();
    scheduler.run(({ cold, hot, expectObservable }) => {
      // The backlog holds 25 tasks, and each claim asks for 10.
      let backlog = 25;
      const loop = workerLoop<Row, Task>(limits, () => at({ now: scheduler.now() }));
      const claim = () =>
        cold("--(r|)").pipe(
          map((): Event => {
            const got = Math.min(10, backlog);
            backlog -= got;
            return { type: "claimed", rows: Array.from({ length: got }, () => "x"), wanted: 10 };
          }),
        );
      const held = loop.effects$.pipe(
        filter((effect) => effect.kind === "hold"),
        map((effect) => (effect.kind === "hold" ? effect.rows.length : 0)),
      );
      const wakes = hot("w").pipe(map((): Event => ({ type: "woken" })));
      expectObservable(merge(held, play(loop, wakes, claim).pipe(filter(() => false))), "^ 20ms !").toBe(
        "--a-b-c",
        { a: 10, b: 10, c: 5 },
      );
      // The last was short: the next due time is read, then the loop idles.
    });
  });

  it("stops: the claim in flight finishes and its rows go back, then unregister, give back, finish, drain, complete; grace fires the signals", () => {
    const scheduler = virtualTime();
    const seen: Array<[number, string]> = [];
    scheduler.run(({ cold, hot, flush }) => {
      const loop = workerLoop<Row, Task>(limits, () => at({ now: scheduler.now() }));
      const sources = hot("w 2ms s 8ms g", {
        w: { type: "woken" },
        s: { type: "stopRequested" },
        g: { type: "graceOver" },
      } as Record<string, Event>);
      let claims = 0;
      // The first claim finds nothing (1 frame); the second, out when the
      // stop comes at 3, returns a row at 5.
      const claim = () => {
        claims += 1;
        return claims === 1
          ? cold("-(r|)", { r: { type: "claimed", rows: [], wanted: 5 } as Event })
          : cold("---(r|)", { r: { type: "claimed", rows: ["late"], wanted: 5 } as Event });
      };
      const after = (ms: number, event: Event) => cold(`${ms}ms (e|)`, { e: event });
      const others = (effect: Effect): Observable<Event> => {
        switch (effect.kind) {
          case "register":
            return after(1, { type: "registered", ok: true });
          case "release":
            return after(1, { type: "released" });
          case "unregister":
            return after(1, { type: "unregistered" });
          case "giveBackUnstarted":
            return after(1, { type: "givenBack" });
          case "closeIntake":
            // The last handlers end 10 frames later, and the throttle completes.
            return after(10, { type: "tasksDone" });
          case "awaitWrites":
            return after(2, { type: "writesIdle" });
          default:
            return merge();
        }
      };
      loop.effects$.subscribe((effect) => seen.push([scheduler.now(), effect.kind]));
      play(loop, sources, claim, others).subscribe();
      flush();
      assert.deepEqual(loop.state().mode, { kind: "stopped" });
    });
    assert.deepEqual(seen, [
      [0, "claim"],
      [1, "register"],
      // A new registration: read the next due time and claim once more.
      [2, "readDue"],
      [2, "claim"],
      // Stop at 3; the claim returns a row at 5: it goes back.
      [5, "release"],
      [6, "unregister"],
      [7, "giveBackUnstarted"],
      [8, "closeIntake"],
      [12, "abortRunning"],
      [18, "awaitWrites"],
      [20, "complete"],
    ]);
  });
});
