import * as E from "fp-ts/lib/Either.js";
import {
  EMPTY,
  Subject,
  Subscription,
  asyncScheduler,
  defer,
  expand,
  filter,
  from,
  merge,
  mergeMap,
  race,
  switchMap,
  take,
  timer,
  type SchedulerLike,
} from "rxjs";
import type { SchedulerDeps } from "../client/clientDeps.ts";
import type { CheckedInput } from "../enqueue/checkInput.ts";
import { messageOf, type DbError, type DecodeError } from "../errors.ts";
import type { ScheduleRow } from "../db/scheduleQueries.ts";
import { fromTask, fromTaskEither } from "../worker/fromTask.ts";
import { cursorFor, dueTicks } from "./dueTicks.ts";
import { fireTick } from "./fireTick.ts";
import { nextTick, scheduleSpecOf, type Schedulable, type ScheduleSpec } from "./schedule.ts";
import { checkOptionShape } from "../optionShape.ts";
import { schedulerOptionShape, type SchedulerOptions, type TickEvent } from "./schedulerOptions.ts";

/** What the scheduler knows of its queue's schedule. */
type Known<V> =
  | { readonly _tag: "Unread" }
  | { readonly _tag: "None" }
  | { readonly _tag: "Invalid"; readonly version: string }
  | {
      readonly _tag: "Active";
      readonly row: ScheduleRow;
      readonly spec: ScheduleSpec;
      readonly input: CheckedInput<V>;
    };

/** Result of one pass of the tick loop: what it enqueued and how long to sleep. */
interface Step {
  readonly events: ReadonlyArray<TickEvent>;
  readonly waitMs: number;
}

// A timer longer than 2^31-1 ms fires at once in Node, and a wall clock that
// jumps (NTP, a suspended laptop) is only noticed on waking: never sleep
// longer than this, just re-check.
const maxWaitMs = 60_000;

/**
 * One running scheduler of one queue. Observables decide when to look
 * (timer to the next tick, schedule changes, periodic re-reads); `step`
 * decides what to enqueue.
 */
export class SchedulerRun<In, V> {
  private known: Known<V> = { _tag: "Unread" };
  /** Bumped on each change of `known`, so a step can tell it acted on an old one. */
  private knownSeq = 0;
  private actedVersion: string | undefined;
  private cursor: number;
  private readonly changed = new Subject<void>();
  private readonly refreshNow = new Subject<void>();
  private readonly subscriptions = new Subscription();
  private readonly decodeInput: (value: unknown) => E.Either<DecodeError, CheckedInput<V>>;
  private readonly clock: SchedulerLike;
  private stepping: Promise<Step> | undefined;
  private stopped = false;

  constructor(
    private readonly deps: SchedulerDeps,
    private readonly job: Schedulable<In, V>,
    private readonly options: SchedulerOptions,
  ) {
    checkOptionShape("runScheduler", options, schedulerOptionShape);
    this.clock = options.scheduler ?? asyncScheduler;
    this.cursor = this.clock.now();
    this.decodeInput = (stored) =>
      E.map((value: V): CheckedInput<V> => ({ value, stored, json: JSON.stringify(stored) }))(
        job.definition.input.load(stored),
      );
  }

  start(emit: (event: TickEvent) => void): void {
    const { listener, store, schema } = this.deps;
    const channel = `${schema}.schedule`;
    const queue = this.job.queue;
    const reads$ = merge(
      listener.channel$(channel).pipe(filter((name) => name === queue)),
      listener.reconnected$,
      this.refreshNow,
      // The first read waits for LISTEN, so no change falls between the two.
      defer(() => listener.ready(channel)).pipe(
        mergeMap(() => timer(0, this.options.refreshIntervalMs ?? 10_000, this.clock)),
      ),
    ).pipe(switchMap(() => fromTaskEither(store.schedulesGet(this.deps.pool, { queue }))));
    this.subscriptions.add(reads$.subscribe((read) => this.learn(read)));

    const loop$ = fromTask(() => this.runStep()).pipe(
      expand((step) =>
        race(timer(step.waitMs, this.clock), this.changed).pipe(
          take(1),
          mergeMap(() => (this.stopped ? EMPTY : fromTask(() => this.runStep()))),
        ),
      ),
      mergeMap((step) => from(step.events)),
    );
    this.subscriptions.add(loop$.subscribe(emit));
  }

  /** Takes in a read of the schedule row; wakes the loop when it changed. */
  private learn(read: E.Either<DbError, ScheduleRow | undefined>): void {
    const { log, schema } = this.deps;
    const queue = this.job.queue;
    if (E.isLeft(read)) {
      log.warn("reading the schedule failed; keeping the last one read", {
        queue,
        error: messageOf(read.left.cause),
      });
      return;
    }
    const row = read.right;
    const current = this.known;
    if (row === undefined) {
      if (current._tag === "None") return;
      this.setKnown({ _tag: "None" });
      return;
    }
    if (
      (current._tag === "Active" && current.row.version === row.version) ||
      (current._tag === "Invalid" && current.version === row.version)
    )
      return;
    const parsed = E.tryCatch(() => scheduleSpecOf(row.cron, row.timeZone), messageOf);
    const input = this.decodeInput(row.input);
    if (E.isLeft(parsed) || E.isLeft(input)) {
      log.error("the stored schedule is not valid; no ticks until it is replaced", {
        queue,
        schema,
        error: E.isLeft(parsed) ? parsed.left : E.isLeft(input) ? input.left.message : "",
      });
      this.setKnown({ _tag: "Invalid", version: row.version });
      return;
    }
    this.setKnown({ _tag: "Active", row, spec: parsed.right, input: input.right });
  }

  private setKnown(known: Known<V>): void {
    this.known = known;
    this.knownSeq += 1;
    this.changed.next();
  }

  private runStep(): Promise<Step> {
    this.stepping = this.step();
    return this.stepping;
  }

  /** Enqueues the ticks due now, then says how long to sleep until the next. */
  private async step(): Promise<Step> {
    const seq = this.knownSeq;
    const { events, waitMs } = await this.fireDue();
    // A change that arrived while this step ran had no one to wake: look again at once.
    return { events, waitMs: seq === this.knownSeq ? waitMs : 0 };
  }

  private async fireDue(): Promise<Step> {
    const known = this.known;
    if (known._tag !== "Active") return { events: [], waitMs: maxWaitMs };
    const { row, spec } = known;
    if (this.actedVersion !== row.version) {
      this.cursor = cursorFor(row, this.cursor, this.actedVersion === undefined);
      this.actedVersion = row.version;
    }
    const maxCatchUp = this.options.maxCatchUp ?? 100;
    const due = dueTicks(spec, this.cursor, this.clock.now(), row.catchUp, maxCatchUp);
    const events: TickEvent[] = [];
    for (const tick of due) {
      if (this.stopped) return { events, waitMs: maxWaitMs };
      const fired = await fireTick(this.deps, this.job, row.version, known.input, tick)();
      if (E.isLeft(fired)) {
        // The cursor stays before this tick: it is tried again (or, when
        // missed ticks are skipped, superseded by a later one).
        this.deps.log.warn("enqueuing a scheduled tick failed; retrying", {
          queue: row.queue,
          tick: tick.toISOString(),
          error: messageOf(fired.left.cause),
        });
        return { events, waitMs: this.options.retryDelayMs ?? 1_000 };
      }
      if (fired.right._tag === "Outdated") {
        // Someone changed the schedule since it was read: read it again,
        // and let the new version decide about this tick.
        this.refreshNow.next();
        return { events, waitMs: maxWaitMs };
      }
      this.cursor = tick.getTime();
      if (fired.right._tag === "Claimed") {
        events.push({ queue: row.queue, tickAt: tick, taskId: fired.right.taskId });
      }
    }
    const now = this.clock.now();
    const next = nextTick(spec, new Date(Math.max(this.cursor, now)));
    const waitMs = next === null ? maxWaitMs : Math.min(maxWaitMs, Math.max(0, next.getTime() - now));
    return { events, waitMs };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.subscriptions.unsubscribe();
    this.changed.complete();
    this.refreshNow.complete();
    // A tick being written finishes (commit or rollback) before stop resolves.
    await this.stepping;
  }
}
